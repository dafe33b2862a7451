// weft/transport/socket.hpp - IPv4 endpoints and owned, non-blocking socket descriptors.
// weft:hosted (POSIX sockets).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <utility>

#include "weft/config.hpp"
#include "weft/core/result.hpp"
#include "weft/runtime/errors.hpp"

WEFT_BEGIN
namespace transport {

/// An IPv4 address and port, in host byte order.
struct ipv4_endpoint {
  std::uint32_t address = 0;
  std::uint16_t port = 0;

  friend constexpr bool operator==(const ipv4_endpoint&, const ipv4_endpoint&) noexcept = default;

  /// Parses "a.b.c.d:port" (port 0 asks the kernel for one).
  [[nodiscard]] static result<ipv4_endpoint> parse(std::string_view text) noexcept {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return error(runtime::runtime_errc::bad_address, "endpoint: no port");
    ipv4_endpoint out;
    std::string_view host = text.substr(0, colon);
    for (int octet = 0; octet < 4; ++octet) {
      unsigned value = 256;
      const auto [next, ec] = std::from_chars(host.data(), host.data() + host.size(), value);
      if (ec != std::errc{} || value > 255 || next == host.data())
        return error(runtime::runtime_errc::bad_address, "endpoint: bad octet");
      out.address = (out.address << 8) | value;
      host.remove_prefix(static_cast<std::size_t>(next - host.data()));
      if (octet < 3) {
        if (host.empty() || host.front() != '.')
          return error(runtime::runtime_errc::bad_address, "endpoint: expected '.'");
        host.remove_prefix(1);
      }
    }
    if (!host.empty()) return error(runtime::runtime_errc::bad_address, "endpoint: trailing");
    const std::string_view port = text.substr(colon + 1);
    unsigned port_value = 65536;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_value);
    if (ec != std::errc{} || end != port.data() + port.size() || port_value > 65535 || port.empty())
      return error(runtime::runtime_errc::bad_address, "endpoint: bad port");
    out.port = static_cast<std::uint16_t>(port_value);
    return out;
  }

  [[nodiscard]] sockaddr_in to_sockaddr() const noexcept {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(address);
    return sa;
  }
  [[nodiscard]] static ipv4_endpoint from_sockaddr(const sockaddr_in& sa) noexcept {
    return {ntohl(sa.sin_addr.s_addr), ntohs(sa.sin_port)};
  }
  /// "a.b.c.d:port" into `out` (at least 22 bytes); returns the length written.
  std::size_t format(char* out, std::size_t capacity) const noexcept {
    const int n = std::snprintf(out, capacity, "%u.%u.%u.%u:%u", (address >> 24) & 0xffu,
                                (address >> 16) & 0xffu, (address >> 8) & 0xffu, address & 0xffu,
                                static_cast<unsigned>(port));
    return n < 0 ? 0 : static_cast<std::size_t>(n);
  }
};

/// Owns one file descriptor; closes it on destruction.
class socket_fd {
 public:
  socket_fd() noexcept = default;
  explicit socket_fd(int fd) noexcept : fd_(fd) {}
  socket_fd(socket_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  socket_fd& operator=(socket_fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  socket_fd(const socket_fd&) = delete;
  socket_fd& operator=(const socket_fd&) = delete;
  ~socket_fd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

namespace detail {
[[nodiscard]] inline result<socket_fd> open_socket(int type) noexcept {
  const int fd = ::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return error(runtime::runtime_errc::system_error, "socket");
  return socket_fd(fd);
}
[[nodiscard]] inline result<void> bind_to(const socket_fd& s, ipv4_endpoint at) noexcept {
  const int one = 1;
  (void)::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const sockaddr_in sa = at.to_sockaddr();
  if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0)
    return error(errno == EADDRINUSE ? runtime::runtime_errc::address_in_use
                                     : runtime::runtime_errc::system_error, "bind");
  return ok();
}
[[nodiscard]] inline result<ipv4_endpoint> local_endpoint_of(const socket_fd& s) noexcept {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0)
    return error(runtime::runtime_errc::system_error, "getsockname");
  return ipv4_endpoint::from_sockaddr(sa);
}
}  // namespace detail

}  // namespace transport
WEFT_END
