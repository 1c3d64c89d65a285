#pragma once
// Server reply frames: {"id":7,"ok":true,...} and {"id":7,"ok":false,"error":{..}}.
#include "protocol/result.hpp"

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
// A reply carrying events, bounded in bytes (protocol §9.10).
struct bounded_reply {
  std::string frame;
  std::size_t carried = 0;  // how many of the events (the oldest first) it holds
};
// How many of `items` (in order) fit into `max_bytes` after `head_bytes` of
// other content, counting one separator byte per item. Pure arithmetic, so the
// trimming rule is tested on its own.
std::size_t items_that_fit(std::size_t max_bytes, std::size_t head_bytes, const std::vector<std::size_t>& item_sizes);
// As reply_with_events, but the frame is at most `max_bytes` long whenever
// the fields alone fit: it then holds the oldest events that fit and
// "more": true, so the client pages on from the last one. A trimmed reply is
// never "recovered" (it does not reach the head), so a "recovered" field is
// set false. Fields alone over `max_bytes` are sent with no events. `cut`
// says the events are already fewer than the window (the read was bounded):
// the reply then says "more": true whatever fits.
bounded_reply reply_with_events_within(std::optional<std::int64_t> id, const boost::json::object& fields,
                                       const std::vector<std::shared_ptr<const std::string>>& events,
                                       std::size_t max_bytes, bool cut = false);
// A page of the decision log as {"records":[...],"next":n|null} (protocol
// §9.10), at most about `max_bytes` long: the first records that fit, but
// always at least one so that paging moves on; when records are left out,
// `next` is the n of the last one carried. `after` is the page's start, `next`
// what the storage said lies beyond the page.
boost::json::object decisions_page(std::vector<boost::json::object> records, std::int64_t after,
                                   std::optional<std::int64_t> next, std::size_t max_bytes);
// {"error":{"code":..,"message":..}} for the HTTP API.
std::string http_error_body(const error& err);
// {..fields..,"events":[...]} for the HTTP API.
std::string object_with_events(const boost::json::object& fields,
                               const std::vector<std::shared_ptr<const std::string>>& events);
// As object_with_events, bounded as reply_with_events_within.
bounded_reply object_with_events_within(const boost::json::object& fields,
                                        const std::vector<std::shared_ptr<const std::string>>& events,
                                        std::size_t max_bytes, bool cut = false);

}  // namespace parley
