#include <lifeline/detail/frame_body.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace lifeline::detail {
namespace {

std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

std::size_t round_up_to_pages(std::size_t n) noexcept {
  const auto page = page_size();
  return (n + page - 1) / page * page;
}

}  // namespace

frame_body::frame_body(frame_body&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      mapped_(std::exchange(other.mapped_, false)) {}

frame_body& frame_body::operator=(frame_body&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    mapped_ = std::exchange(other.mapped_, false);
  }
  return *this;
}

bool frame_body::start(std::size_t length) noexcept {
  release();
  if (length == 0) return true;
  if (length >= mapped_from) {
    // Private anonymous pages: committed one by one as bytes are written, returned whole
    // by munmap. MAP_NORESERVE: a claimed length costs no commit charge up front.
    void* p = ::mmap(nullptr, round_up_to_pages(length), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
    if (p == MAP_FAILED) return false;
    data_ = static_cast<std::byte*>(p);
    mapped_ = true;
  } else {
    data_ = static_cast<std::byte*>(std::malloc(length));
    if (data_ == nullptr) return false;
    mapped_ = false;
  }
  capacity_ = length;
  return true;
}

void frame_body::append(std::span<const std::byte> bytes) noexcept {
  const auto n = std::min(bytes.size(), capacity_ - size_);
  if (n == 0) return;
  std::memcpy(data_ + size_, bytes.data(), n);
  size_ += n;
}

void frame_body::release() noexcept {
  if (data_ != nullptr) {
    if (mapped_) ::munmap(data_, round_up_to_pages(capacity_));
    else std::free(data_);
  }
  data_ = nullptr;
  size_ = capacity_ = 0;
  mapped_ = false;
}

std::size_t frame_body::held_bytes() const noexcept {
  return mapped_ ? round_up_to_pages(size_) : capacity_;
}

}  // namespace lifeline::detail
