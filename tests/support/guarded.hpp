// A buffer with poison guard bytes before and after its data, so a kernel that
// writes one element too many (or too early) is caught. The data start can be
// misaligned by 0..3 elements from a 64-byte boundary, the alignment a SIMD
// kernel would like best, to exercise head and tail handling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace simdrop_test {

template <class T>
class guarded {
 public:
  static constexpr std::size_t guard_bytes = 128;  // two cache lines on each side
  static constexpr std::size_t alignment = 64;

  explicit guarded(std::size_t n, std::size_t misalign_elements = 0)
      : n_(n), storage_(alignment + guard_bytes + misalign_elements * sizeof(T) + n * sizeof(T) + guard_bytes) {
    const std::uintptr_t raw = reinterpret_cast<std::uintptr_t>(storage_.data());
    const std::size_t to_aligned = std::size_t((alignment - raw % alignment) % alignment);
    data_offset_ = to_aligned + guard_bytes + misalign_elements * sizeof(T);
    for (std::size_t i = 0; i < storage_.size(); ++i) storage_[i] = poison(i);
  }

  guarded(const std::vector<T>& values, std::size_t misalign_elements) : guarded(values.size(), misalign_elements) {
    assign(values);
  }

  guarded(const guarded&) = delete;
  guarded& operator=(const guarded&) = delete;

  T* data() { return reinterpret_cast<T*>(storage_.data() + data_offset_); }
  const T* data() const { return reinterpret_cast<const T*>(storage_.data() + data_offset_); }
  std::size_t size() const { return n_; }
  T& operator[](std::size_t i) { return data()[i]; }
  const T& operator[](std::size_t i) const { return data()[i]; }

  void assign(const std::vector<T>& values) {
    if (!values.empty()) std::memcpy(data(), values.data(), values.size() * sizeof(T));
  }
  std::vector<T> to_vector() const { return std::vector<T>(data(), data() + n_); }

  // Fills the data with the poison pattern too (so an unwritten element shows).
  void poison_data() {
    for (std::size_t i = 0; i < n_ * sizeof(T); ++i) storage_[data_offset_ + i] = poison(data_offset_ + i);
  }

  // True when every byte outside the data still holds its poison value.
  bool guards_intact() const { return first_damaged_byte() == npos_byte; }

  // "guards intact", or where the first overwritten guard byte is.
  std::string guard_report() const {
    const std::size_t b = first_damaged_byte();
    if (b == npos_byte) return "guards intact";
    std::ostringstream s;
    const long long rel = (long long)b - (long long)data_offset_;
    s << "guard byte overwritten at byte " << rel << " relative to the data start (data is " << n_ * sizeof(T)
      << " bytes): 0x" << std::hex << unsigned(storage_[b]) << " instead of 0x" << unsigned(poison(b));
    return s.str();
  }

 private:
  static constexpr std::size_t npos_byte = std::size_t(-1);
  static unsigned char poison(std::size_t i) { return (unsigned char)(0xA5u ^ (i * 0x3Bu) ^ (i >> 8)); }

  std::size_t first_damaged_byte() const {
    const std::size_t data_end = data_offset_ + n_ * sizeof(T);
    for (std::size_t i = 0; i < storage_.size(); ++i) {
      if (i == data_offset_) i = data_end;
      if (i >= storage_.size()) break;
      if (storage_[i] != poison(i)) return i;
    }
    return npos_byte;
  }

  std::size_t n_;
  std::vector<unsigned char> storage_;
  std::size_t data_offset_ = 0;
};

}  // namespace simdrop_test
