// lifeline/detail/frame_body.hpp — where a frame's body waits while it arrives (private
// to the decoder; in a public header only because frame_decoder holds one).
//
// Why not a std::vector: a hostile peer announcing 64 KiB frames and never finishing them
// made every session's vector grow on the heap, and the heap kept that memory after the
// sessions closed (RSS stayed at 1.2 GB of 1.3 after an attack). The length of a frame is
// known before its body, so the buffer is sized once: a small body on the heap, a large one
// (16 KiB or more) in pages mapped for it alone, which the kernel commits only as bytes
// arrive and takes back the moment the frame is done or the session ends. held_bytes() is
// what it costs now, for memory budgets.
//
// One thread at a time. Allocation failure leaves it empty (the decoder reports an error).
#pragma once

#include <cstddef>
#include <span>

namespace lifeline::detail {

class frame_body {
 public:
  /// Bodies this large or larger are mapped; smaller ones are on the heap.
  static constexpr std::size_t mapped_from = 16 * 1024;

  frame_body() = default;
  ~frame_body() { release(); }
  frame_body(const frame_body&) = delete;
  frame_body& operator=(const frame_body&) = delete;
  frame_body(frame_body&& other) noexcept;
  frame_body& operator=(frame_body&& other) noexcept;

  /// Makes room for a body of `length` bytes, dropping what was there. False if the
  /// memory could not be had.
  [[nodiscard]] bool start(std::size_t length) noexcept;
  /// Appends bytes of the body started; never more than its length.
  void append(std::span<const std::byte> bytes) noexcept;
  /// Gives the memory back.
  void release() noexcept;

  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// Memory held now: the heap block, or the mapped pages bytes have touched.
  [[nodiscard]] std::size_t held_bytes() const noexcept;

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  bool mapped_ = false;
};

}  // namespace lifeline::detail
