#pragma once
// The hash-chained, signed decision log (protocol §5, §9.11): canonical JSON
// (RFC 8785), record hashing, signing and chain verification. Pure functions.
#include "protocol/result.hpp"
#include "protocol/signing.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

// A decision record before the storage engine completes it (protocol §5):
// `fields` holds eng, ch, topic, terms, text, proposed_by, accepted_by and
// proposal_seq (engagement rules make it for an accepted proposal); the engine
// adds n, prev, ts, decision_seq, hash and, with a signer, kid and sig, in the
// same transaction as the events. `attach_to` indexes the appended events: that
// event's seq becomes decision_seq and its body gets the record's summary.
struct record_draft {
  boost::json::object fields;
  std::size_t attach_to = 0;
};

// RFC 8785 JSON Canonicalization Scheme: keys sorted by UTF-16 code units,
// no whitespace, ECMAScript number and string forms.
std::string canonical_json(const boost::json::value& v);

// Lowercase hex SHA-256 of canonical_json(record without its "hash", "kid"
// and "sig" members): the signature signs the hash, so it cannot be inside it.
std::string record_hash(const boost::json::object& record);

// Completes a record whose other fields are final: sets "hash", and with a
// signer "kid" (its thumbprint) and "sig" (base64url Ed25519 signature over
// the ASCII hash). Returns the hash.
std::string seal_record(boost::json::object& record, const ed25519_key* signer);

// Checks a record's "kid" and "sig" against `keys` (the hash itself is
// verify_chain's business). The error says what is wrong: "no sig",
// "unknown kid ...", "bad signature".
result<void> check_record_signature(const boost::json::object& record, const key_set& keys);
// Parses one stored or exported record (a JSON object); nullopt when it is not
// one. Numbers are read correctly rounded (simdjson): Boost.JSON 1.81's parser
// may turn the shortest form of a double into its neighbour, and the record
// would then no longer match its hash.
std::optional<boost::json::object> parse_record(std::string_view json);

// The `prev` of record 1.
inline const std::string genesis_prev(64, '0');

// Checks a whole chain in order: n = 1, 2, …; each prev equals the previous hash
// (64 zeros first); each hash matches. On failure the error message names the
// first bad record ("record 3: hash mismatch").
result<void> verify_chain(const std::vector<boost::json::object>& records);

}  // namespace parley
