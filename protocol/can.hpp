#pragma once
// `can` (protocol §9.9): the actions a reader may take now in an engagement,
// so that clients show only those and never re-derive the rules.
#include "protocol/engagement.hpp"
#include "protocol/token.hpp"

#include <string>
#include <vector>

namespace parley {

// The actions `reader` may take now, sorted and without repeats:
//   message, status, flag       a post of that kind would be accepted;
//   propose:<topic>             a proposal of that topic would be (for `phase`:
//                               to some phase; for `resolution`: of some open dispute;
//                               for `call`: with one slot);
//   decide:<seq>                a decision (either verdict) on open proposal <seq>,
//                               in its channel (eng:<id> or its mediation channel;
//                               accepting a call picks slot 0);
//   resolve:<flag seq>          a flag_update resolving that open flag;
//   acknowledge:<key>           an acknowledgement of requirement <key> (§9.2);
//   deliver                     a delivery (§9.6) of a new version of some deliverable;
//   decide:<seq>                also: accepting the latest version <seq> of a deliverable;
//   revise:<seq>                a revision_request on the latest version <seq> of a deliverable.
// Each is derived by running the post checks (check_post, validate_body and
// check) on a minimal well-formed candidate post, in both of the engagement's
// channels, so an action is listed exactly when posting it would be accepted.
// `propose:phase` is listed only for a phase the move is allowed to now: a
// move to `active` that requirements block is not offered.
//   review                      a review (§9.7); can has no clock, so between
//                               the period's end and the reveal it is still listed.
std::vector<std::string> can(const engagement_state& s, const claims& reader, const engagement_limits& limits = {});

}  // namespace parley
