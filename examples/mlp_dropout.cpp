// The tutorial's multilayer perceptron, trained with and without dropout.
//
// A small classification task that a wide network overfits: 150 noisy
// training points in 2-D (three interleaved spiral arms, 15% of the labels
// flipped to another class), and 6000 test points from the same distribution.
// The network has three hidden layers (64, 256, 64 ReLU units) and one
// simdrop::Dropout layer in front of every weight layer and on the logits,
// with per-layer keep_prob as the textbook advises:
//
//     input 1.0 -> [64] 0.9 -> [256] 0.5 -> [64] 0.8 -> output 1.0
//
// (no dropout on the inputs and the logits, the strongest on the widest
// layer). It trains twice with the same initial weights, batches and
// learning rate -- once with every keep_prob at 1 and once with the ones above
// -- and prints train and test accuracy: dropout narrows the train/test gap.
// Inference runs with every layer in eval() mode.
//
// Everything is plain, single-threaded C++ except the dropout calls, and it is
// deterministic: the dataset and initial weights come from SplitMix64, the
// masks from (seed, layer id, step). Every training predicts twice and stops
// unless both passes agree. `--check` also trains the dropout network a second
// time on the scalar implementation with 3 simdrop threads, and exits nonzero
// unless its predictions are identical to the first and dropout narrowed the
// gap (the ctest runs it that way).
//
// Usage: mlp_dropout [--check] [--epochs N]
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "simdrop/layer.hpp"
#include "simdrop/simdrop.h"

namespace {

// ---- deterministic randomness for data and weights (not for dropout) ---------------

class splitmix64 {
 public:
  explicit splitmix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  double normal() {  // Box-Muller
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t state_;
};

// ---- the dataset -------------------------------------------------------------------------

constexpr int input_dim = 2, classes = 3;

struct dataset {
  std::vector<float> x;  // n x input_dim
  std::vector<int> label;
  std::size_t size() const { return label.size(); }
};

// Three spiral arms; `flip` is the probability of replacing a label by a random other class.
dataset make_spirals(std::size_t n, double noise, double flip, std::uint64_t seed) {
  splitmix64 rng(seed);
  dataset d;
  for (std::size_t i = 0; i < n; ++i) {
    const int c = int(rng.next() % classes);
    const double t = rng.uniform();                  // position along the arm
    const double r = 0.1 + t;                        // radius
    const double angle = 4.0 * t + 2.0943951023931953 * c;  // arms 120 degrees apart
    d.x.push_back(float(r * std::cos(angle) + noise * rng.normal()));
    d.x.push_back(float(r * std::sin(angle) + noise * rng.normal()));
    int label = c;
    if (rng.uniform() < flip) label = (c + 1 + int(rng.next() % (classes - 1))) % classes;
    d.label.push_back(label);
  }
  return d;
}

// ---- the network --------------------------------------------------------------------------

struct dense {
  int in, out;
  std::vector<float> w, b;    // w: in x out (row-major), b: out
  std::vector<float> vw, vb;  // momentum
  std::vector<float> gw, gb;  // gradients of one batch

  dense(int in_, int out_, splitmix64& rng)
      : in(in_), out(out_), w(std::size_t(in_) * out_), b(out_, 0.0f), vw(w.size(), 0.0f), vb(out_, 0.0f),
        gw(w.size()), gb(out_) {
    const double std_dev = std::sqrt(2.0 / in_);  // He initialisation for ReLU
    for (float& v : w) v = float(std_dev * rng.normal());
  }

  // y[batch x out] = x[batch x in] * w + b
  void forward(const float* x, float* y, int batch) const {
    for (int r = 0; r < batch; ++r) {
      float* yr = y + std::size_t(r) * out;
      std::copy(b.begin(), b.end(), yr);
      for (int i = 0; i < in; ++i) {
        const float xi = x[std::size_t(r) * in + i];
        const float* wi = w.data() + std::size_t(i) * out;
        for (int j = 0; j < out; ++j) yr[j] += xi * wi[j];
      }
    }
  }

  // Accumulates gw, gb from x and dy; writes dx (if not null).
  void backward(const float* x, const float* dy, float* dx, int batch) {
    std::fill(gw.begin(), gw.end(), 0.0f);
    std::fill(gb.begin(), gb.end(), 0.0f);
    for (int r = 0; r < batch; ++r) {
      const float* dyr = dy + std::size_t(r) * out;
      for (int j = 0; j < out; ++j) gb[j] += dyr[j];
      for (int i = 0; i < in; ++i) {
        const float xi = x[std::size_t(r) * in + i];
        float* gwi = gw.data() + std::size_t(i) * out;
        for (int j = 0; j < out; ++j) gwi[j] += xi * dyr[j];
        if (dx) {
          const float* wi = w.data() + std::size_t(i) * out;
          float sum = 0.0f;
          for (int j = 0; j < out; ++j) sum += wi[j] * dyr[j];
          dx[std::size_t(r) * in + i] = sum;
        }
      }
    }
  }

  void step(float learning_rate, float momentum) {
    for (std::size_t k = 0; k < w.size(); ++k) {
      vw[k] = momentum * vw[k] - learning_rate * gw[k];
      w[k] += vw[k];
    }
    for (std::size_t k = 0; k < b.size(); ++k) {
      vb[k] = momentum * vb[k] - learning_rate * gb[k];
      b[k] += vb[k];
    }
  }
};

// Dropout in front of each dense layer (on its input), ReLU after each hidden one.
struct mlp {
  static constexpr int layers = 4;
  std::vector<dense> dense_layers;
  std::vector<simdrop::Dropout> dropout;  // dropout[l] acts on the input of dense_layers[l]
  simdrop::Dropout output_dropout;        // on the logits: keep_prob 1.0, as advised
  int batch_capacity = 0;
  std::vector<std::vector<float>> act;  // act[l]: input of dense l (after dropout); act[layers]: logits

  mlp(const std::array<int, layers + 1>& widths, const std::array<float, layers + 1>& keep_prob,
      std::uint64_t weight_seed, std::uint64_t dropout_seed)
      : output_dropout(keep_prob[layers], dropout_seed, layers) {
    splitmix64 rng(weight_seed);
    for (int l = 0; l < layers; ++l) {
      dense_layers.emplace_back(widths[l], widths[l + 1], rng);
      dropout.emplace_back(keep_prob[l], dropout_seed, std::uint32_t(l));  // layer id = position
    }
    act.resize(layers + 1);
  }

  void train_mode(bool on) {
    for (auto& d : dropout) d.train(on);
    output_dropout.train(on);
  }

  // Forward of `batch` rows of x; returns the logits (batch x classes).
  const float* forward(const float* x, int batch, std::vector<simdrop::Dropout::Ticket>* tickets) {
    if (tickets) tickets->clear();
    for (int l = 0; l <= layers; ++l) act[l].resize(std::size_t(batch) * (l < layers ? dense_layers[l].in : classes));
    std::copy(x, x + std::size_t(batch) * input_dim, act[0].begin());
    for (int l = 0; l < layers; ++l) {
      auto ticket = dropout[l].forward(act[l].data(), act[l].data(), act[l].size());  // in place
      if (tickets) tickets->push_back(ticket);
      dense_layers[l].forward(act[l].data(), act[l + 1].data(), batch);
      if (l + 1 < layers)
        for (float& v : act[l + 1]) v = v > 0.0f ? v : 0.0f;  // ReLU
    }
    auto ticket = output_dropout.forward(act[layers].data(), act[layers].data(), act[layers].size());
    if (tickets) tickets->push_back(ticket);
    return act[layers].data();
  }

  // One SGD step on a batch: softmax cross-entropy, backward through the tickets.
  void train_batch(const float* x, const int* labels, int batch, float learning_rate, float momentum) {
    std::vector<simdrop::Dropout::Ticket> tickets;
    const float* logits = forward(x, batch, &tickets);
    std::vector<float> grad(std::size_t(batch) * classes);
    for (int r = 0; r < batch; ++r) {
      const float* z = logits + std::size_t(r) * classes;
      const float top = *std::max_element(z, z + classes);
      double total = 0.0;
      for (int c = 0; c < classes; ++c) total += std::exp(double(z[c] - top));
      for (int c = 0; c < classes; ++c) {
        const double p = std::exp(double(z[c] - top)) / total;
        grad[std::size_t(r) * classes + c] = float((p - (c == labels[r] ? 1.0 : 0.0)) / batch);
      }
    }
    output_dropout.backward(tickets[layers], grad.data(), grad.data(), grad.size());
    std::vector<float> upstream;
    for (int l = layers - 1; l >= 0; --l) {
      upstream.assign(act[l].size(), 0.0f);
      dense_layers[l].backward(act[l].data(), grad.data(), l > 0 ? upstream.data() : nullptr, batch);
      if (l > 0) {
        // Through dropout l (the mask of this batch), then through the ReLU of layer l - 1:
        // act[l] is relu(h) after dropout, so act[l] > 0 exactly where both passed.
        dropout[l].backward(tickets[l], upstream.data(), upstream.data(), upstream.size());
        for (std::size_t k = 0; k < upstream.size(); ++k)
          if (!(act[l][k] > 0.0f)) upstream[k] = 0.0f;
        grad.swap(upstream);
      }
    }
    for (auto& d : dense_layers) d.step(learning_rate, momentum);
  }

  std::vector<int> predict(const dataset& d) {
    train_mode(false);
    std::vector<int> out(d.size());
    constexpr int chunk = 256;
    for (std::size_t r0 = 0; r0 < d.size(); r0 += chunk) {
      const int batch = int(std::min<std::size_t>(chunk, d.size() - r0));
      const float* logits = forward(d.x.data() + r0 * input_dim, batch, nullptr);
      for (int r = 0; r < batch; ++r) {
        const float* z = logits + std::size_t(r) * classes;
        out[r0 + std::size_t(r)] = int(std::max_element(z, z + classes) - z);
      }
    }
    train_mode(true);
    return out;
  }
};

double accuracy(const std::vector<int>& predicted, const dataset& d) {
  std::size_t right = 0;
  for (std::size_t i = 0; i < d.size(); ++i) right += predicted[i] == d.label[i];
  return 100.0 * double(right) / double(d.size());
}

// FNV-1a over the predictions: a fingerprint to compare runs.
std::uint64_t fingerprint(const std::vector<int>& predicted) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (int p : predicted) {
    h ^= std::uint64_t(p);
    h *= 0x100000001B3ull;
  }
  return h;
}

struct result {
  double train_accuracy, test_accuracy;
  std::vector<int> test_predictions;
};

result train(const dataset& train_set, const dataset& test_set, const std::array<float, 5>& keep_prob, int epochs) {
  mlp net({input_dim, 64, 256, 64, classes}, keep_prob, /*weight_seed=*/7, /*dropout_seed=*/2024);
  constexpr int batch = 32;
  const float learning_rate = 0.05f, momentum = 0.9f;
  splitmix64 shuffle_rng(11);
  std::vector<std::size_t> order(train_set.size());
  std::vector<float> xb(std::size_t(batch) * input_dim);
  std::vector<int> yb(batch);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[shuffle_rng.next() % i]);
    for (std::size_t b0 = 0; b0 < order.size(); b0 += batch) {
      const int n = int(std::min<std::size_t>(batch, order.size() - b0));
      for (int r = 0; r < n; ++r) {
        const std::size_t s = order[b0 + std::size_t(r)];
        std::copy_n(train_set.x.data() + s * input_dim, input_dim, xb.data() + std::size_t(r) * input_dim);
        yb[r] = train_set.label[s];
      }
      net.train_batch(xb.data(), yb.data(), n, learning_rate, momentum);
    }
  }
  result r;
  r.train_accuracy = accuracy(net.predict(train_set), train_set);
  r.test_predictions = net.predict(test_set);
  r.test_accuracy = accuracy(r.test_predictions, test_set);
  // Inference is deterministic: a second pass gives the same predictions.
  if (net.predict(test_set) != r.test_predictions) {
    std::fprintf(stderr, "mlp_dropout: two inference passes disagree\n");
    std::exit(1);
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  bool check = false;
  int epochs = 300;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--check") {
      check = true;
    } else if (arg == "--epochs" && i + 1 < argc) {
      epochs = std::atoi(argv[++i]);
      if (epochs <= 0) {
        std::fprintf(stderr, "mlp_dropout: --epochs needs a positive number\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "usage: %s [--check] [--epochs N]\n", argv[0]);
      return 2;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  // Train and test sets from the same distribution (15% of labels flipped in
  // both, so 85% is about the best test accuracy there is).
  const dataset train_set = make_spirals(150, 0.04, 0.15, 1), test_set = make_spirals(6000, 0.04, 0.15, 2);
  const std::array<float, 5> no_dropout = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
  const std::array<float, 5> with_dropout = {1.0f, 0.9f, 0.5f, 0.8f, 1.0f};

  simdrop_set_num_threads(1);
  const result plain = train(train_set, test_set, no_dropout, epochs);
  const result dropped = train(train_set, test_set, with_dropout, epochs);

  std::printf("simdrop MLP example: 3 spiral arms, %zu training and %zu test points (15%% of labels flipped), "
              "%d epochs\n",
              train_set.size(), test_set.size(), epochs);
  std::printf("network 2 -> 64 -> 256 -> 64 -> 3, keep_prob per layer: 1.0 0.9 0.5 0.8 1.0 (isa %s)\n",
              simdrop_active_isa());
  std::printf("%-16s %10s %10s %10s\n", "", "train %", "test %", "gap");
  std::printf("%-16s %10.1f %10.1f %10.1f\n", "without dropout", plain.train_accuracy, plain.test_accuracy,
              plain.train_accuracy - plain.test_accuracy);
  std::printf("%-16s %10.1f %10.1f %10.1f\n", "with dropout", dropped.train_accuracy, dropped.test_accuracy,
              dropped.train_accuracy - dropped.test_accuracy);
  std::printf("test prediction fingerprint: %016llx (without), %016llx (with)\n",
              (unsigned long long)fingerprint(plain.test_predictions),
              (unsigned long long)fingerprint(dropped.test_predictions));

  int status = 0;
  if (check) {
    // The same training on the scalar reference implementation with 3 simdrop
    // threads: every mask, hence every weight and prediction, must be identical.
    simdrop_set_isa("scalar");
    simdrop_set_num_threads(3);
    const result again = train(train_set, test_set, with_dropout, epochs);
    simdrop_set_num_threads(0);
    simdrop_set_isa("auto");
    const bool same = again.test_predictions == dropped.test_predictions;
    std::printf("check: retrained on scalar with 3 threads, fingerprint %016llx: %s\n",
                (unsigned long long)fingerprint(again.test_predictions), same ? "identical" : "DIFFERENT");
    const double plain_gap = plain.train_accuracy - plain.test_accuracy;
    const double dropout_gap = dropped.train_accuracy - dropped.test_accuracy;
    if (!same) status = 1;
    if (!(dropout_gap < plain_gap)) {
      std::printf("check: dropout did not narrow the train/test gap\n");
      status = 1;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("time: %.2f s\n", seconds);
  return status;
}
