#include "server/listener.hpp"

#include "server/http_session.hpp"
#include "server/tls_session.hpp"
#include "storage/log.hpp"

#include <boost/asio/post.hpp>

#include <cerrno>

namespace parley {
namespace net = boost::asio;

namespace {
// How long accepting rests when the process is out of descriptors or memory:
// long enough not to spin, short enough to serve again soon after.
constexpr auto accept_pause = std::chrono::milliseconds(250);

bool out_of_resources(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}
}  // namespace

listener::listener(hub& h, net::io_context& ioc, listening_socket socket, listener_role role,
                   const tls_credentials* tls)
    : hub_(h), role_(role), tls_(tls), acceptor_(ioc), pause_timer_(ioc) {
  auto protocol = socket.protocol();
  acceptor_.assign(protocol, socket.release());
}

// Started from the main thread once the workers run: the accept loop lives on the acceptor's executor.
void listener::run() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void listener::stop() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    self->pause_timer_.cancel();
  });
}

void listener::do_accept() {
  // Each connection lives on one worker for its whole life.
  worker& w = hub_.next_worker();
  acceptor_.async_accept(w.ioc, [self = shared_from_this(), &w](boost::system::error_code ec,
                                                                 net::ip::tcp::socket socket) {
    self->on_accept(w, ec, std::move(socket));
  });
}

void listener::pause_accepting(const boost::system::error_code& why) {
  bump(hub_.stats().accept_pauses);
  log_event(log_level::warn, "accept_paused", {{"error", why.message()}, {"pause_ms", std::to_string(accept_pause.count())}});
  pause_timer_.expires_after(accept_pause);
  pause_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && self->acceptor_.is_open()) self->do_accept();
  });
}

void listener::on_accept(worker& w, boost::system::error_code ec, net::ip::tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (out_of_resources(ec)) return pause_accepting(ec);
  if (ec) {
    log_event(log_level::warn, "accept_failed", {{"error", ec.message()}});
    return do_accept();
  }
  auto connection = hub_.limits().open_connection();
  if (!connection) {
    // Over the cap: shed this socket at once, before it costs anything more.
    bump(hub_.stats().connections_refused);
    log_event(log_level::warn, "connection_refused", {{"reason", "connection cap reached"}});
    boost::system::error_code ignored;
    socket.close(ignored);
    return do_accept();
  }
  boost::system::error_code ignored;
  socket.set_option(net::ip::tcp::no_delay(true), ignored);
  std::unique_ptr<tls_session> tls;
  if (tls_) tls = std::make_unique<tls_session>(tls_->current());
  std::make_shared<http_session>(hub_, w, std::move(socket), std::move(connection), role_ == listener_role::admin_port,
                                 std::move(tls))
      ->run();
  do_accept();
}

}  // namespace parley
