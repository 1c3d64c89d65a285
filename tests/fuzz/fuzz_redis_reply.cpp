// Replies from Redis: raw RESP bytes through hiredis' reader (as the
// connection reads them), copied by from_hiredis, then decoded as the read
// script's reply, as a channel's read markers, as a Redis Cluster slot map
// and, for each string, as a published event payload and a MOVED/ASK
// redirection.
#include "storage/redis_cluster_map.hpp"
#include "storage/redis_reply.hpp"

#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>

namespace {

const parley::redis_node_address asked{"127.0.0.1", 7000};

void decode(const parley::redis_value& v, int depth) {
  if (v.is_string()) (void)parley::parse_published(v.str);
  if (v.is_string() || v.is_error()) {
    auto redirect = parley::parse_redirect(v.str, asked);
    if (redirect && (redirect->slot >= parley::redis_cluster_slots || redirect->node.port < 1)) __builtin_trap();
  }
  if (depth < 4)
    for (const auto& e : v.elements) decode(e, depth + 1);
}

// hiredis 0.14 allocates an array's element table as soon as it reads the
// header, with no limit (hiredis 1.0 added one): a reply claiming millions of
// elements is hiredis' memory, not ours to fuzz. Redis is trusted with that.
bool huge_array_header(const std::uint8_t* data, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] != '*') continue;
    std::size_t n = 0;
    for (std::size_t j = i + 1; j < size && data[j] >= '0' && data[j] <= '9' && n <= 4096; ++j) n = n * 10 + (data[j] - '0');
    if (n > 4096) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (huge_array_header(data, size)) return 0;
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, reinterpret_cast<const char*>(data), size);
  // Several replies may follow each other, as on a pipelined connection.
  for (int i = 0; i < 16; ++i) {
    void* reply = nullptr;
    if (redisReaderGetReply(reader, &reply) != REDIS_OK || !reply) break;
    auto v = parley::from_hiredis(static_cast<redisReply*>(reply));
    freeReplyObject(reply);
    auto read = parley::decode_read_reply(v, i % 2 == 1);
    // A reply that is not a read window is storage's fault (`internal`), never the client's.
    if (!read && read.err().code != parley::errc::internal) __builtin_trap();
    auto markers = parley::decode_read_markers(v);
    if (!markers && markers.err().code != parley::errc::internal) __builtin_trap();
    if (markers && markers->size() > static_cast<std::size_t>(parley::max_read_markers)) __builtin_trap();
    auto map = parley::redis_slot_map::from_cluster_slots(v, asked);
    if (!map && map.err().code != parley::errc::internal) __builtin_trap();
    if (map)
      for (const auto& master : map->masters())
        if (master.host.empty() || master.port < 1 || master.port > 65535) __builtin_trap();
    decode(v, 0);
  }
  redisReaderFree(reader);
  return 0;
}
