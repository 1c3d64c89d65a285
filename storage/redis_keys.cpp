#include "storage/redis_keys.hpp"

#include "protocol/channel.hpp"
#include "storage/redis_slot.hpp"

namespace parley {

std::string tag_of(std::string_view ch) {
  if (auto c = parse_channel(ch)) {
    if (c->type == channel_type::support) return "{support}";
    return "{eng:" + c->eng + "}";
  }
  return "{" + std::string(ch) + "}";
}

std::string channel_key(std::string_view ch, std::string_view what) {
  return "parley:" + tag_of(ch) + ":" + std::string(what) + ":" + std::string(ch);
}

std::string log_key(std::string_view eng) { return "parley:{eng:" + std::string(eng) + "}:log"; }

std::string files_key(std::string_view eng) { return "parley:{eng:" + std::string(eng) + "}:files"; }

std::string snapshot_key(std::string_view eng) { return "parley:{eng:" + std::string(eng) + "}:snapshot"; }

std::string webhook_key(std::string_view eng, std::string_view what) {
  return "parley:{eng:" + std::string(eng) + "}:wh:" + std::string(what);
}

std::string webhook_entry_prefix(std::string_view eng) { return webhook_key(eng, "e:"); }

std::string webhook_entry_key(std::string_view eng, std::string_view id) {
  return webhook_entry_prefix(eng) + std::string(id);
}

std::string webhooks_state_key(std::string_view state) { return "parley:webhooks:" + std::string(state); }

std::string user_key(std::string_view user_id) { return "parley:user:" + std::string(user_id); }

std::string listed_engagement_of(std::string_view ch) {
  auto c = parse_channel(ch);
  return c && c->type == channel_type::engagement ? c->eng : std::string();
}

std::string cid_field_of(std::string_view sender, std::string_view cid) {
  return std::to_string(sender.size()) + ":" + std::string(sender) + std::string(cid);
}

std::string due_key(int partition) { return "parley:{due:" + std::to_string(partition) + "}:due"; }

int due_partition_of(std::string_view key) { return redis_key_slot(key) % due_partitions; }

}  // namespace parley
