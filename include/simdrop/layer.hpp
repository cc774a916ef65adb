// simdrop::Dropout -- a dropout layer for training loops, header-only over the C API.
//
// What it does
//   Training: every forward call draws a fresh mask. The layer folds its layer
//   id and a step counter into the stream,
//
//       stream = (layer_id << 40) | step,      layer_id < 2^24, step < 2^40,
//
//   and advances the step, so no two calls of one layer, and no two layers
//   with different ids, ever share a mask even when they share the seed.
//   Forward returns a Ticket (the call's parameters); backward takes it and
//   regenerates the very same mask from (seed, stream) -- nothing is stored.
//   Several forward calls may run before their backward calls (gradient
//   accumulation, recurrent unrolling): keep each ticket. backward() without a
//   ticket uses the last forward. set_store_mask(true) makes forward keep the
//   mask bits in the ticket instead (ceil(n / 8) bytes) and backward use them.
//
//   Inference (eval()): forward is the identity. It copies only when x != y
//   (in place it touches nothing), never draws random numbers and leaves the
//   step where it is.
//
//   State: (seed, layer id, step) is a plain struct. Saving it with a
//   checkpoint and restoring it on resume makes every later mask exactly the
//   one the uninterrupted run would have drawn, on any ISA and thread count.
//
// How to use dropout well (Srivastava et al., JMLR 2014; Goodfellow, Bengio and
// Courville, "Deep Learning", section 7.12)
//   - keep_prob is per layer. Typical values: 1.0 (no dropout) on the input
//     layer, or at most light dropout (0.8 or more) on raw inputs; 0.5 on wide
//     hidden layers; 0.8-0.9 on narrow ones; 1.0 on the output layer -- never
//     drop the logits.
//   - Drop more in the largest layers: they have the most parameters to
//     overfit with, and the most redundancy to spare.
//   - Inverted dropout scales kept units by 1/keep_prob at training time (this
//     library's scale s), so inference needs no rescaling: just eval().
//   - Dropout slows convergence; wide networks with dropout want more epochs
//     or a larger learning rate than without.
//
//   Example (one hidden layer, forward and backward of a mini-batch):
//     simdrop::Dropout drop(0.5f, seed, /*layer_id=*/1);
//     auto ticket = drop.forward(h, h, batch * width);   // in place
//     ...
//     drop.backward(ticket, dh, dh, batch * width);
//
// Errors throw simdrop::error (from simdrop/simdrop.hpp) with the C API's
// status. A Dropout object is not safe to call from two threads at once (the
// step counter); the calls themselves use the library's OpenMP threads.
#ifndef SIMDROP_LAYER_HPP
#define SIMDROP_LAYER_HPP

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "simdrop/simdrop.h"
#include "simdrop/simdrop.hpp"

namespace simdrop {

class Dropout {
 public:
  static constexpr unsigned step_bits = 40;
  static constexpr std::uint64_t max_step = (std::uint64_t(1) << step_bits) - 1;
  static constexpr std::uint32_t max_layer_id = (std::uint32_t(1) << (64 - step_bits)) - 1;

  // Everything a resumed run needs to continue the same sequence of masks.
  struct State {
    std::uint64_t seed = 0;
    std::uint32_t layer_id = 0;
    std::uint64_t step = 0;  // number of training forward calls so far
    friend bool operator==(const State& a, const State& b) {
      return a.seed == b.seed && a.layer_id == b.layer_id && a.step == b.step;
    }
    friend bool operator!=(const State& a, const State& b) { return !(a == b); }
  };

  // What backward needs from one forward call. Cheap to copy (a stored mask is shared).
  class Ticket {
   public:
    Ticket() = default;  // an inference ticket for 0 elements

    bool training() const noexcept { return training_; }
    std::size_t size() const noexcept { return size_; }
    // The C parameters of the call (meaningful for training tickets).
    const simdrop_params& params() const noexcept { return params_; }
    std::uint64_t stream() const noexcept { return params_.stream; }
    bool has_mask() const noexcept { return mask_ != nullptr; }
    // The stored mask bits (empty unless the layer stores masks).
    const std::vector<std::uint8_t>& mask() const noexcept {
      static const std::vector<std::uint8_t> none;
      return mask_ ? *mask_ : none;
    }

   private:
    friend class Dropout;
    simdrop_params params_ = simdrop_params_default(1.0f, 0);
    std::size_t size_ = 0;
    bool training_ = false;
    std::shared_ptr<const std::vector<std::uint8_t>> mask_;
  };

  // keep_prob in [0, 1]; layer_id <= max_layer_id, unique among the layers
  // that share a seed. Starts in training mode at step 0.
  explicit Dropout(float keep_prob = 1.0f, std::uint64_t seed = 0, std::uint32_t layer_id = 0) {
    set_keep_prob(keep_prob);
    restore(State{seed, layer_id, 0});
  }

  // ---- configuration ----------------------------------------------------------------
  float keep_prob() const noexcept { return keep_prob_; }
  void set_keep_prob(float keep_prob) {
    if (!std::isfinite(keep_prob) || !(keep_prob >= 0.0f) || !(keep_prob <= 1.0f)) throw error(SIMDROP_ERR_KEEP_PROB);
    keep_prob_ = keep_prob;
  }
  simdrop_generator generator() const noexcept { return generator_; }
  void set_generator(simdrop_generator g) {
    if (g != SIMDROP_PHILOX4X32_10 && g != SIMDROP_XOSHIRO128PP) throw error(SIMDROP_ERR_GENERATOR);
    generator_ = g;
  }
  std::uint32_t threshold_bits() const noexcept { return threshold_bits_; }
  void set_threshold_bits(std::uint32_t bits) {
    if (bits != 8 && bits != 16 && bits != 32) throw error(SIMDROP_ERR_THRESHOLD_BITS);
    threshold_bits_ = bits;
  }
  bool store_mask() const noexcept { return store_mask_; }
  void set_store_mask(bool on) noexcept { store_mask_ = on; }

  bool training() const noexcept { return training_; }
  void train(bool on = true) noexcept { training_ = on; }
  void eval() noexcept { training_ = false; }

  // ---- state ------------------------------------------------------------------------
  State state() const noexcept { return State{seed_, layer_id_, step_}; }
  void restore(const State& s) {
    if (s.layer_id > max_layer_id || s.step > max_step + 1) throw error(SIMDROP_ERR_ARGUMENT);
    seed_ = s.seed;
    layer_id_ = s.layer_id;
    step_ = s.step;
  }
  std::uint64_t seed() const noexcept { return seed_; }
  std::uint32_t layer_id() const noexcept { return layer_id_; }
  std::uint64_t step() const noexcept { return step_; }

  // The stream of training call number `step` of layer `layer_id`.
  static std::uint64_t stream_for(std::uint32_t layer_id, std::uint64_t step) {
    if (layer_id > max_layer_id || step > max_step) throw error(SIMDROP_ERR_ARGUMENT);
    return (std::uint64_t(layer_id) << step_bits) | step;
  }

  // ---- forward and backward -----------------------------------------------------------

  // y = dropout(x) over n elements; x == y (in place) is allowed. Training: a
  // fresh mask, the step advances (only if the call succeeds). Inference: the
  // identity. Returns the ticket backward needs; it is also remembered as last().
  Ticket forward(const float* x, float* y, std::size_t n) {
    Ticket t;
    t.size_ = n;
    if (!training_) {
      copy_if_needed(x, y, n);
      last_ = t;
      return t;
    }
    if (step_ > max_step) throw error(SIMDROP_ERR_ARGUMENT);  // 2^40 calls: out of streams
    t.training_ = true;
    t.params_ = simdrop_params_default(keep_prob_, seed_);
    t.params_.stream = stream_for(layer_id_, step_);
    t.params_.generator = generator_;
    t.params_.threshold_bits = threshold_bits_;
    if (store_mask_) {
      auto bits = std::make_shared<std::vector<std::uint8_t>>(mask_bytes(n));
      check(simdrop_forward_f32(x, y, n, &t.params_, bits->data()));
      t.mask_ = std::move(bits);
    } else {
      check(simdrop_forward_f32(x, y, n, &t.params_, nullptr));
    }
    ++step_;
    last_ = t;
    return t;
  }

  // In place on a vector.
  Ticket forward(std::vector<float>& inout) { return forward(inout.data(), inout.data(), inout.size()); }

  // dx = the ticket's mask and scale applied to dy (n must be the forward's
  // size); dy == dx allowed. An inference ticket gives the identity. The
  // layer's current settings and state do not matter: the ticket has them all.
  // Dropout is linear, so this also replays the forward's mask on new inputs.
  void backward(const Ticket& t, const float* dy, float* dx, std::size_t n) const {
    if (n != t.size_) throw error(SIMDROP_ERR_ARGUMENT);
    if (!t.training_) {
      copy_if_needed(dy, dx, n);
      return;
    }
    if (t.mask_)
      check(simdrop_backward_mask_f32(dy, t.mask_->data(), dx, n, &t.params_));
    else
      check(simdrop_backward_f32(dy, dx, n, &t.params_));
  }

  void backward(const Ticket& t, std::vector<float>& inout) const {
    backward(t, inout.data(), inout.data(), inout.size());
  }

  // Backward of the last forward call.
  void backward(const float* dy, float* dx, std::size_t n) const { backward(last_, dy, dx, n); }

  const Ticket& last() const noexcept { return last_; }

 private:
  static void copy_if_needed(const float* from, float* to, std::size_t n) {
    if (n == 0 || from == to) return;
    if (!from || !to) throw error(SIMDROP_ERR_NULL_POINTER);
    if (n > SIZE_MAX / sizeof(float)) throw error(SIMDROP_ERR_INDEX_OVERFLOW);
    std::memmove(to, from, n * sizeof(float));
  }

  float keep_prob_ = 1.0f;
  simdrop_generator generator_ = SIMDROP_PHILOX4X32_10;
  std::uint32_t threshold_bits_ = 16;  // the library default (simdrop_params_default)
  bool store_mask_ = false;
  bool training_ = true;
  std::uint64_t seed_ = 0;
  std::uint32_t layer_id_ = 0;
  std::uint64_t step_ = 0;
  Ticket last_;
};

}  // namespace simdrop

#endif  // SIMDROP_LAYER_HPP
