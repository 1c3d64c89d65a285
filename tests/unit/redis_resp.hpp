#pragma once
// Raw RESP bytes parsed with hiredis' own reader and copied as the
// connection copies them: replies as a Redis (or an impostor) sends them.
#include "storage/redis_reply.hpp"

#include <hiredis/hiredis.h>

#include <optional>
#include <string_view>

namespace parley::test {

inline std::optional<redis_value> resp(std::string_view bytes) {
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, bytes.data(), bytes.size());
  void* reply = nullptr;
  std::optional<redis_value> out;
  if (redisReaderGetReply(reader, &reply) == REDIS_OK && reply) {
    out = from_hiredis(static_cast<redisReply*>(reply));
    freeReplyObject(reply);
  }
  redisReaderFree(reader);
  return out;
}

}  // namespace parley::test
