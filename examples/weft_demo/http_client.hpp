// weft_demo/http_client.hpp - a small blocking HTTP/1.1 client over POSIX sockets for
// weftd's /kv and /status endpoints: keep-alive, a deadline per request, and an outcome
// that says whether the request may have reached the server (for history recording).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace weft_demo {

/// How a request ended, as far as the client can tell.
enum class transport_outcome : std::uint8_t {
  answered,     // a full HTTP response arrived (see status)
  not_sent,     // the connection could not be opened: the server never saw the request
  unknown,      // sent (or partly sent) and then timeout, reset or a malformed answer
};

struct http_response {
  transport_outcome outcome = transport_outcome::not_sent;
  int status = 0;
  std::string body;
  std::string error;  // why, when outcome != answered
};

struct endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
};

/// Parses "host:port"; false when malformed.
inline bool parse_endpoint(std::string_view text, endpoint& out) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= text.size()) return false;
  unsigned long port = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
    port = port * 10 + static_cast<unsigned long>(c - '0');
    if (port > 65535) return false;
  }
  out.host = std::string(text.substr(0, colon));
  out.port = static_cast<std::uint16_t>(port);
  return true;
}

/// One keep-alive connection to one server. Not thread-safe: one per client thread.
class http_client {
 public:
  http_client() = default;
  explicit http_client(endpoint to) : to_(std::move(to)) {}
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;
  http_client(http_client&& other) noexcept : to_(std::move(other.to_)), fd_(other.fd_) { other.fd_ = -1; }
  http_client& operator=(http_client&& other) noexcept {
    if (this != &other) {
      close();
      to_ = std::move(other.to_);
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  ~http_client() { close(); }

  void retarget(const endpoint& to) {
    if (to.host != to_.host || to.port != to_.port) close();
    to_ = to;
  }
  [[nodiscard]] const endpoint& target() const noexcept { return to_; }

  void close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buffer_.clear();
  }

  /// Sends one request and waits for its answer until `timeout`. Extra headers are
  /// complete lines ("Name: value\r\n").
  http_response request(std::string_view method, std::string_view path, std::string_view body,
                        std::chrono::milliseconds timeout, std::string_view extra_headers = {}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    http_response r;
    const bool reused = fd_ >= 0;
    if (!reused && !connect_to(deadline, r.error)) {
      r.outcome = transport_outcome::not_sent;
      return r;
    }
    std::string head;
    head.reserve(160 + body.size());
    head.append(method).append(" ").append(path).append(" HTTP/1.1\r\nHost: ").append(to_.host);
    head.append("\r\nContent-Length: ").append(std::to_string(body.size())).append("\r\n");
    head.append(extra_headers).append("\r\n").append(body);
    if (!send_all(head, deadline, r.error)) {
      close();
      // A reused keep-alive connection the server closed while idle: nothing was read by
      // the server if the write failed outright, but we cannot tell a partial write apart.
      r.outcome = transport_outcome::unknown;
      return r;
    }
    if (!read_response(deadline, r)) {
      close();
      r.outcome = transport_outcome::unknown;
      return r;
    }
    r.outcome = transport_outcome::answered;
    return r;
  }

 private:
  bool connect_to(std::chrono::steady_clock::time_point deadline, std::string& error) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return fail_with(error, "socket");
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(to_.port);
    if (::inet_pton(AF_INET, to_.host.c_str(), &addr.sin_addr) != 1) {
      close();
      error = "bad address " + to_.host;
      return false;
    }
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return true;
    if (errno != EINPROGRESS) return fail_with(error, "connect");
    if (!wait_for(POLLOUT, deadline)) {
      close();
      error = "connect timeout";
      return false;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) {
      errno = so_error;
      return fail_with(error, "connect");
    }
    return true;
  }

  bool fail_with(std::string& error, const char* what) {
    error = std::string(what) + ": " + std::strerror(errno);
    close();
    return false;
  }

  bool wait_for(short events, std::chrono::steady_clock::time_point deadline) {
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, events, 0};
      const int n = ::poll(&p, 1, static_cast<int>(left.count()));
      if (n > 0) return true;
      if (n < 0 && errno != EINTR) return false;
    }
  }

  bool send_all(std::string_view data, std::chrono::steady_clock::time_point deadline, std::string& error) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (!wait_for(POLLOUT, deadline)) {
          error = "send timeout";
          return false;
        }
        continue;
      }
      error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    return true;
  }

  // Reads more bytes into buffer_; false on timeout, error or end of stream.
  bool fill(std::chrono::steady_clock::time_point deadline, std::string& error) {
    char chunk[16384];
    while (true) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        buffer_.append(chunk, static_cast<std::size_t>(n));
        return true;
      }
      if (n == 0) {
        error = "connection closed by server";
        return false;
      }
      if (errno == EAGAIN || errno == EINTR) {
        if (!wait_for(POLLIN, deadline)) {
          error = "timeout";
          return false;
        }
        continue;
      }
      error = std::string("recv: ") + std::strerror(errno);
      return false;
    }
  }

  static bool header_is(std::string_view line, std::string_view name) {
    if (line.size() <= name.size() || line[name.size()] != ':') return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
      const char a = line[i] >= 'A' && line[i] <= 'Z' ? static_cast<char>(line[i] + 32) : line[i];
      if (a != name[i]) return false;
    }
    return true;
  }

  bool read_response(std::chrono::steady_clock::time_point deadline, http_response& r) {
    constexpr std::size_t max_head_bytes = 16384;
    std::size_t head_end = std::string::npos;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (buffer_.size() > max_head_bytes) {
        r.error = "response head too large";
        return false;
      }
      if (!fill(deadline, r.error)) return false;
    }
    const std::string_view head(buffer_.data(), head_end);
    if (head.size() < 12 || head.substr(0, 7) != "HTTP/1.") {
      r.error = "malformed status line";
      return false;
    }
    r.status = std::atoi(std::string(head.substr(9, 3)).c_str());
    std::size_t length = 0;
    bool close_after = false;
    std::size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos < head.size()) {
      const std::size_t next = head.find("\r\n", pos + 2);
      std::string_view line = head.substr(pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
      if (header_is(line, "content-length")) length = std::strtoull(std::string(line.substr(15)).c_str(), nullptr, 10);
      if (header_is(line, "connection") && line.find("close") != std::string_view::npos) close_after = true;
      pos = next;
    }
    constexpr std::size_t max_body_bytes = 64u << 20;
    if (length > max_body_bytes) {
      r.error = "response body too large";
      return false;
    }
    const std::size_t total = head_end + 4 + length;
    while (buffer_.size() < total)
      if (!fill(deadline, r.error)) return false;
    r.body.assign(buffer_, head_end + 4, length);
    buffer_.erase(0, total);
    if (close_after) close();
    return true;
  }

  endpoint to_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace weft_demo
