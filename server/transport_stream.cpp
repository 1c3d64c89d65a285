#include "server/transport_stream.hpp"

namespace parley {

namespace {
class tls_error_category : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "parley.tls"; }
  std::string message(int) const override { return "TLS failure"; }
};
}  // namespace

const boost::system::error_category& tls_category() {
  static const tls_error_category category;
  return category;
}

boost::system::error_code transport_stream::tls_failure() const { return {1, tls_category()}; }

}  // namespace parley
