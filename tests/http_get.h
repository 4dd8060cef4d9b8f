// A plain HTTP client for tests of the health and metrics server: sends a request as given
// and reads the whole response (the server closes after it).
#ifndef SHOAL_TESTS_HTTP_GET_H_
#define SHOAL_TESTS_HTTP_GET_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace shoal::testing {

// A connected socket to 127.0.0.1:port (-1 when refused), reads timing out after 5 s.
inline int http_dial(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

inline std::string http_round_trip(uint16_t port, const std::string& request) {
  const int fd = http_dial(port);
  if (fd < 0) return "";
  (void)send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

inline std::string http_get(uint16_t port, const std::string& target, const std::string& headers = "") {
  return http_round_trip(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n");
}

inline int http_status(const std::string& response) {
  return response.size() > 12 ? std::stoi(response.substr(9, 3)) : -1;
}

inline std::string http_body(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_HTTP_GET_H_
