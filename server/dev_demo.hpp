#pragma once
// In development mode (--dev), the demo engagement "demo" is created the way
// the platform creates engagements (protocol §9.1): a PUT with a title,
// project details and an NDA requirement, so that a newcomer sees the
// invitation first.
#include "server/hub.hpp"

#include <ostream>
#include <string>

namespace parley {

// Sends PUT /api/v1/engagements/demo through the HTTP API with a service
// token signed with `secret`, waits (a few seconds at most) for the answer and
// says on `out` what it was. A demo engagement left by an earlier run is kept.
void create_demo_engagement(hub& h, const std::string& secret, std::ostream& out);

}  // namespace parley
