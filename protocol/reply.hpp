#pragma once
// Server reply frames: {"id":7,"ok":true,...} and {"id":7,"ok":false,"error":{..}}.
#include "result.hpp"

#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace parley {

// `fields` are added after id and ok. A missing id is written as null.
std::string reply_ok(std::optional<std::int64_t> id, const boost::json::object& fields = {});
std::string reply_error(std::optional<std::int64_t> id, const error& err);
// As reply_ok, plus "events":[...] spliced from already-serialised events
// (stored JSON is never parsed again to answer a read).
std::string reply_with_events(std::optional<std::int64_t> id, const boost::json::object& fields,
                              const std::vector<std::shared_ptr<const std::string>>& events);
// {"error":{"code":..,"message":..}} for the HTTP API.
std::string http_error_body(const error& err);
// {..fields..,"events":[...]} for the HTTP API.
std::string object_with_events(const boost::json::object& fields,
                               const std::vector<std::shared_ptr<const std::string>>& events);

}  // namespace parley
