#include "server/dev_demo.hpp"

#include "protocol/token.hpp"
#include "server/http_api.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <future>
#include <memory>

namespace parley {
namespace http = boost::beast::http;

namespace {

boost::json::object demo_invitation() {
  return {{"title", "Market entry DACH"},
          {"details",
           "Assess the German, Austrian and Swiss markets for our B2B analytics product: market size, "
           "three competitors in depth, pricing, and a go-to-market plan for the first year."},
          {"client", {{"id", "alice"}, {"name", "Alice"}}},
          {"expert", {{"id", "bob"}, {"name", "Bob"}}},
          {"terms", {{"scope", "Market study and go-to-market plan"}, {"weeks", 3}}},
          {"requirements", boost::json::array{{{"key", "nda"}, {"title", "Mutual NDA"}, {"by", {"client", "expert"}}}}}};
}

}  // namespace

void create_demo_engagement(hub& h, const std::string& secret, std::ostream& out) {
  using namespace std::chrono;
  const auto exp = duration_cast<seconds>(system_clock::now().time_since_epoch()).count() + 3600;
  const auto tok = make_token({"platform", "Platform", user_role::service}, {"*"}, exp, secret);

  http_request req{http::verb::put, "/api/v1/engagements/demo", 11};
  req.set(http::field::authorization, "Bearer " + tok);
  req.set(http::field::content_type, "application/json");
  req.body() = boost::json::serialize(demo_invitation());
  req.prepare_payload();
  const http_origin origin{boost::asio::ip::make_address("127.0.0.1"), false};

  auto answer = std::make_shared<std::promise<unsigned>>();
  auto status = answer->get_future();
  handle_http(h, req, origin, [answer](http_response res) { answer->set_value(res.result_int()); });
  if (status.wait_for(seconds(10)) != std::future_status::ready) {
    out << "parley: the demo engagement was not created in time\n";
    return;
  }
  switch (status.get()) {
    case 201:
      out << "parley: demo engagement \"demo\" created: Bob, the expert, is invited; it starts when he accepts\n";
      break;
    case 200: out << "parley: demo engagement \"demo\" is already there\n"; break;
    case 409:
      out << "parley: demo engagement \"demo\" exists from an earlier run (without an invitation); "
             "start with an empty data directory to see the invitation\n";
      break;
    default: out << "parley: the demo engagement could not be created\n"; break;
  }
}

}  // namespace parley
