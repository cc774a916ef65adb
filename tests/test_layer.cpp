// simdrop::Dropout (include/simdrop/layer.hpp): fresh streams per training
// call, tickets for backward, stored masks, inference as the identity, state
// save/restore, a finite-difference check of backward, and its errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "simdrop/layer.hpp"
#include "simdrop/simdrop.h"
#include "support/implementations.hpp"
#include "support/util.hpp"

namespace {

using simdrop::Dropout;
using u8 = std::uint8_t;
using u64 = std::uint64_t;

bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// The output the C API gives for one training call of a layer.
std::vector<float> c_forward(const std::vector<float>& x, float keep_prob, u64 seed, std::uint32_t layer_id,
                             u64 step) {
  simdrop_params p = simdrop_params_default(keep_prob, seed);
  p.stream = (u64(layer_id) << 40) | step;
  std::vector<float> y(x.size());
  REQUIRE(simdrop_forward_f32(x.data(), y.data(), x.size(), &p, nullptr) == SIMDROP_OK);
  return y;
}

using simdrop_test::for_each_isa_and_threads;

TEST_CASE("layer: stream = (layer_id << 40) | step, a fresh one per training call", "[layer]") {
  REQUIRE(Dropout::stream_for(0, 0) == 0);
  REQUIRE(Dropout::stream_for(3, 5) == ((u64(3) << 40) | 5));
  REQUIRE(Dropout::stream_for(Dropout::max_layer_id, Dropout::max_step) == UINT64_MAX);
  const std::vector<float> x = simdrop_test::test_inputs(150000, 1);  // large enough for the threads
  for_each_isa_and_threads([&] {
    Dropout layer(0.7f, 1234, 9);
    REQUIRE(layer.training());
    for (u64 step = 0; step < 3; ++step) {
      std::vector<float> y(x.size());
      const Dropout::Ticket t = layer.forward(x.data(), y.data(), x.size());
      REQUIRE(t.training());
      REQUIRE(t.size() == x.size());
      REQUIRE(t.stream() == Dropout::stream_for(9, step));
      REQUIRE(layer.step() == step + 1);
      REQUIRE(same_bytes(y, c_forward(x, 0.7f, 1234, 9, step)));
    }
  });
}

TEST_CASE("layer: two layers with one seed but different ids, and two steps, never share a mask", "[layer]") {
  const std::vector<float> x(4096, 1.0f);
  Dropout a(0.5f, 77, 1), b(0.5f, 77, 2);
  std::vector<float> ya0(x.size()), ya1(x.size()), yb0(x.size());
  a.forward(x.data(), ya0.data(), x.size());
  a.forward(x.data(), ya1.data(), x.size());
  b.forward(x.data(), yb0.data(), x.size());
  REQUIRE_FALSE(same_bytes(ya0, ya1));
  REQUIRE_FALSE(same_bytes(ya0, yb0));
  // Agreement between independent masks is about 1/2 (keep_prob 0.5): far from 0 or 1.
  std::size_t agree = 0;
  for (std::size_t i = 0; i < x.size(); ++i) agree += (ya0[i] == 0.0f) == (yb0[i] == 0.0f);
  REQUIRE(agree > x.size() / 3);
  REQUIRE(agree < x.size() * 2 / 3);
}

TEST_CASE("layer: backward regenerates each ticket's mask, with several forwards in flight", "[layer]") {
  const std::vector<float> x = simdrop_test::test_inputs(10007, 2), dy = simdrop_test::test_inputs(10007, 3);
  for (bool store : {false, true}) {
    INFO("store_mask " << store);
    Dropout layer(0.6f, 42, 5);
    layer.set_store_mask(store);
    layer.set_generator(SIMDROP_XOSHIRO128PP);
    layer.set_threshold_bits(16);
    std::vector<Dropout::Ticket> tickets;
    std::vector<std::vector<float>> outputs;
    for (int k = 0; k < 3; ++k) {
      std::vector<float> y(x.size());
      tickets.push_back(layer.forward(x.data(), y.data(), x.size()));
      outputs.push_back(y);
      REQUIRE(tickets.back().has_mask() == store);
      if (store) REQUIRE(tickets.back().mask().size() == (x.size() + 7) / 8);
    }
    // Change the layer's settings: the tickets carry their own.
    layer.set_keep_prob(0.1f);
    layer.restore(Dropout::State{1, 2, 3});
    for (int k = 2; k >= 0; --k) {  // backward in reverse order, as a framework would
      simdrop_params p = tickets[k].params();
      std::vector<float> expected(x.size()), dx(x.size());
      REQUIRE(simdrop_backward_f32(dy.data(), expected.data(), dy.size(), &p) == SIMDROP_OK);
      layer.backward(tickets[k], dy.data(), dx.data(), dy.size());
      REQUIRE(same_bytes(dx, expected));
      // The ticket's mask applied to x is the forward output (dropout is linear).
      std::vector<float> replay(x.size());
      layer.backward(tickets[k], x.data(), replay.data(), x.size());
      REQUIRE(same_bytes(replay, outputs[k]));
    }
    // backward() without a ticket uses the last forward.
    std::vector<float> dx_last(x.size()), dx_ticket(x.size());
    layer.backward(dy.data(), dx_last.data(), dy.size());
    layer.backward(tickets[2], dy.data(), dx_ticket.data(), dy.size());
    REQUIRE(same_bytes(dx_last, dx_ticket));
  }
}

TEST_CASE("layer: stored mask bits are the forward's mask", "[layer]") {
  const std::vector<float> x = simdrop_test::test_inputs(999, 4);
  Dropout layer(0.3f, 8, 1);
  layer.set_store_mask(true);
  std::vector<float> y(x.size());
  const Dropout::Ticket t = layer.forward(x.data(), y.data(), x.size());
  std::vector<u8> mask((x.size() + 7) / 8);
  simdrop_params p = t.params();
  REQUIRE(simdrop_mask(mask.data(), x.size(), &p) == SIMDROP_OK);
  REQUIRE(t.mask() == mask);
}

TEST_CASE("layer: inference is the identity, copies only out of place, and leaves the step alone", "[layer]") {
  std::vector<float> x = simdrop_test::test_inputs(5000, 5);  // includes a signalling NaN: a multiply would quiet it
  const std::vector<float> x0 = x;
  Dropout layer(0.5f, 3, 4);
  layer.forward(x.data(), x.data(), 0);  // step 1: an empty training call still counts
  const Dropout::State before = layer.state();
  layer.eval();
  REQUIRE_FALSE(layer.training());
  std::vector<float> y(x.size(), -1.0f);
  const Dropout::Ticket t = layer.forward(x.data(), y.data(), x.size());
  REQUIRE_FALSE(t.training());
  REQUIRE(same_bytes(y, x0));
  layer.forward(x.data(), x.data(), x.size());
  REQUIRE(same_bytes(x, x0));
  REQUIRE(layer.state() == before);
  std::vector<float> dx(x.size());
  layer.backward(t, x.data(), dx.data(), x.size());
  REQUIRE(same_bytes(dx, x0));
  // Back to training: the next mask is the one of step 1.
  layer.train();
  layer.forward(x.data(), y.data(), x.size());
  REQUIRE(same_bytes(y, c_forward(x0, 0.5f, 3, 4, 1)));
}

TEST_CASE("layer: save and restore reproduce the masks of the uninterrupted run", "[layer]") {
  const std::vector<float> x = simdrop_test::test_inputs(70001, 6);
  const std::uint32_t ids[] = {1, 2, 3};
  const float keeps[] = {0.9f, 0.5f, 0.8f};
  const int steps = 8, interrupt = 3;
  // The uninterrupted run: three layers, `steps` training steps each.
  std::vector<std::vector<float>> reference;
  {
    std::vector<Dropout> layers;
    for (int l = 0; l < 3; ++l) layers.emplace_back(keeps[l], 2024, ids[l]);
    for (int s = 0; s < steps; ++s)
      for (Dropout& layer : layers) {
        std::vector<float> y(x.size());
        layer.forward(x.data(), y.data(), x.size());
        reference.push_back(y);
      }
  }
  for_each_isa_and_threads([&] {
    std::vector<Dropout::State> checkpoint;
    std::size_t k = 0;
    {
      std::vector<Dropout> layers;
      for (int l = 0; l < 3; ++l) layers.emplace_back(keeps[l], 2024, ids[l]);
      for (int s = 0; s < interrupt; ++s)
        for (Dropout& layer : layers) {
          std::vector<float> y(x.size());
          layer.forward(x.data(), y.data(), x.size());
          REQUIRE(same_bytes(y, reference[k++]));
        }
      for (const Dropout& layer : layers) checkpoint.push_back(layer.state());
    }  // the process "dies" here
    std::vector<Dropout> resumed;
    for (int l = 0; l < 3; ++l) {
      resumed.emplace_back(keeps[l], /*seed=*/0, /*layer_id=*/0);  // fresh objects...
      resumed.back().restore(checkpoint[l]);                      // ...with the saved state
      REQUIRE(resumed.back().step() == u64(interrupt));
    }
    for (int s = interrupt; s < steps; ++s)
      for (Dropout& layer : resumed) {
        std::vector<float> y(x.size());
        layer.forward(x.data(), y.data(), x.size());
        REQUIRE(same_bytes(y, reference[k++]));
      }
  });
}

TEST_CASE("layer: backward equals a finite-difference check of forward on a fixed mask", "[layer][gradient]") {
  // L(x) = sum_i w_i * f(y_i) with y = dropout(x) and f(v) = v^2 / 2 + sin(v);
  // dL/dx = backward(w * f'(y)). The mask is held fixed by restoring the
  // layer's state before every forward call.
  const std::size_t n = 257;
  simdrop_test::test_rng rng(99);
  std::vector<float> x(n), w(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = rng.uniform(-2.0f, 2.0f);
    w[i] = rng.uniform(-1.0f, 1.0f);
  }
  for (float keep_prob : {0.5f, 0.8f, 1.0f}) {
    Dropout layer(keep_prob, 31337, 7);
    const Dropout::State fixed = layer.state();
    auto loss = [&](const std::vector<float>& input) {
      layer.restore(fixed);
      std::vector<float> y(n);
      layer.forward(input.data(), y.data(), n);
      double sum = 0.0;
      for (std::size_t i = 0; i < n; ++i) sum += double(w[i]) * (double(y[i]) * y[i] / 2.0 + std::sin(double(y[i])));
      return sum;
    };
    layer.restore(fixed);
    std::vector<float> y(n);
    const Dropout::Ticket t = layer.forward(x.data(), y.data(), n);
    std::vector<float> dy(n), dx(n);
    for (std::size_t i = 0; i < n; ++i) dy[i] = float(double(w[i]) * (double(y[i]) + std::cos(double(y[i]))));
    layer.backward(t, dy.data(), dx.data(), n);
    std::size_t dropped = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const float h = 1.0f / 256.0f;  // exact steps: x +- h is exact for |x| < 2
      std::vector<float> xp = x, xm = x;
      xp[i] += h;
      xm[i] -= h;
      const double numeric = (loss(xp) - loss(xm)) / (2.0 * h);
      INFO("keep_prob " << keep_prob << ", element " << i << ": analytic " << dx[i] << ", numeric " << numeric);
      REQUIRE(double(dx[i]) == Approx(numeric).epsilon(2e-3).margin(2e-4));
      dropped += dx[i] == 0.0f && y[i] == 0.0f;
    }
    if (keep_prob < 1.0f) REQUIRE(dropped > 0);
    if (keep_prob == 1.0f) REQUIRE(dropped == 0);
  }
}

TEST_CASE("layer: errors throw simdrop::error and change nothing", "[layer][errors]") {
  auto status_of = [](auto&& fn) {
    try {
      fn();
    } catch (const simdrop::error& e) {
      return e.status();
    }
    return int(SIMDROP_OK);
  };
  REQUIRE(status_of([] { Dropout d(1.5f); }) == SIMDROP_ERR_KEEP_PROB);
  REQUIRE(status_of([] { Dropout d(std::numeric_limits<float>::quiet_NaN()); }) == SIMDROP_ERR_KEEP_PROB);
  REQUIRE(status_of([] { Dropout d(0.5f, 1, Dropout::max_layer_id + 1); }) == SIMDROP_ERR_ARGUMENT);
  REQUIRE(status_of([] { Dropout::stream_for(0, Dropout::max_step + 1); }) == SIMDROP_ERR_ARGUMENT);

  Dropout layer(0.5f, 1, 2);
  REQUIRE(status_of([&] { layer.set_keep_prob(-0.1f); }) == SIMDROP_ERR_KEEP_PROB);
  REQUIRE(status_of([&] { layer.set_threshold_bits(12); }) == SIMDROP_ERR_THRESHOLD_BITS);
  REQUIRE(status_of([&] { layer.restore(Dropout::State{1, Dropout::max_layer_id + 1, 0}); }) == SIMDROP_ERR_ARGUMENT);
  REQUIRE(layer.keep_prob() == 0.5f);
  REQUIRE(layer.state() == (Dropout::State{1, 2, 0}));

  std::vector<float> x(64, 1.0f), y(64, 2.0f);
  // A failing call leaves the step where it was.
  REQUIRE(status_of([&] { layer.forward(nullptr, y.data(), 64); }) == SIMDROP_ERR_NULL_POINTER);
  REQUIRE(status_of([&] { layer.forward(x.data(), x.data() + 1, 63); }) == SIMDROP_ERR_OVERLAP);
  REQUIRE(layer.step() == 0);
  const Dropout::Ticket t = layer.forward(x.data(), y.data(), 64);
  REQUIRE(layer.step() == 1);
  REQUIRE(status_of([&] { layer.backward(t, x.data(), y.data(), 63); }) == SIMDROP_ERR_ARGUMENT);
  // Out of steps after 2^40 calls.
  layer.restore(Dropout::State{1, 2, Dropout::max_step});
  REQUIRE(status_of([&] { layer.forward(x.data(), y.data(), 64); }) == SIMDROP_OK);
  REQUIRE(status_of([&] { layer.forward(x.data(), y.data(), 64); }) == SIMDROP_ERR_ARGUMENT);
  REQUIRE(layer.step() == Dropout::max_step + 1);
}

}  // namespace
