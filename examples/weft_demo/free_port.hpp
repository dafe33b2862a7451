// weft_demo/free_port.hpp - asks the kernel for a loopback port that is free for both TCP
// and UDP, so that tests and the demo never collide with each other or with the ephemeral
// ports of outgoing connections (fixed port ranges did, now and then).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace weft_demo {

/// A port on 127.0.0.1 free for both TCP and UDP right now (the kernel picks it).
inline std::uint16_t pick_free_port() {
  for (int attempt = 0; attempt < 64; ++attempt) {
    const int tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    std::uint16_t port = 0;
    if (tcp >= 0 && ::bind(tcp, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(tcp, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port = ntohs(addr.sin_port);
    const int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const bool udp_ok = udp >= 0 && ::bind(udp, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (tcp >= 0) ::close(tcp);
    if (udp >= 0) ::close(udp);
    if (port != 0 && udp_ok) return port;
  }
  return 0;
}

}  // namespace weft_demo
