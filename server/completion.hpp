#pragma once
// Awaiting the callback APIs of the hub and the engine from a coroutine.
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>
#include <memory>

namespace parley {

// `start(done)` begins an operation whose `done(T)` may run on any thread (a
// storage thread, or at once). The awaiting coroutine resumes on its own
// executor, never on the thread that called `done`; `start` runs before the
// co_await suspends, so it may use the coroutine's locals by reference.
template <class T, class Start>
boost::asio::awaitable<T> completion(Start start) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(T)>(
      [](auto handler, Start start) {
        auto ex = boost::asio::get_associated_executor(handler);
        // std::function needs a copyable callback; the handler is move-only.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start(std::function<void(T)>([shared, ex](T value) {
          boost::asio::post(ex, [shared, value = std::move(value)]() mutable { (*shared)(std::move(value)); });
        }));
      },
      boost::asio::use_awaitable, std::move(start));
}

}  // namespace parley
