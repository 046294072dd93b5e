// Naive double-precision references for tessera.Attention and
// tessera.AdditiveAttention, written from the definitions in
// docs/ops/attention.md and never calling kernel code:
//   Attention: s_j = scale * q . k_j + mask, over the keys a query may see
//     (causal: j <= past_len + i; bool/int mask nonzero; additive mask not
//     -inf), y = softmax(s) V; a row that sees no key is 0.
//   AdditiveAttention: e_j = v . tanh(W1^T h_j + W2^T s) for j < len,
//     a = softmax(e), context = sum_j a_j h_j.
// Alongside each result they return the first-order error bounds of a float
// computation (in units of u = 2^-24), which the tests turn into
// tolerances.
#ifndef TESSERA_TESTS_REFERENCE_ATTENTION_REFERENCE_H_
#define TESSERA_TESTS_REFERENCE_ATTENTION_REFERENCE_H_

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

namespace tessera::reference {

struct AttentionRefConfig {
  int64_t batch = 1;
  int64_t num_heads = 1;
  int64_t kv_num_heads = 1;
  int64_t head_dim = 1;
  int64_t q_len = 1;
  int64_t kv_len = 1;    // new keys
  int64_t past_len = 0;  // cached keys, before the new ones
  double scale = 1.0;
  bool causal = false;
};

// What the mask says about (b, h, i, j): visible or not, and an additive
// term (only meaningful when visible).
struct MaskEntry {
  bool visible = true;
  double add = 0.0;
};
using MaskFn = std::function<MaskEntry(int64_t b, int64_t h, int64_t i, int64_t j)>;

// q [B, q_len, H*D], k/v [B, kv_len, KVH*D], past_k/past_v [B, KVH, past, D]
// (may be empty when past_len == 0), mask may be empty. Returns y [B, q_len,
// H*D]; `bound` (same size) receives per element the error bound in units
// of u: (2 E + 2 n + 10) * sum_j p_j |v_jc|, with E the largest score
// error (head_dim * scale * sum |q k| + |s|) and n the visible keys.
inline std::vector<double> RefAttention(const AttentionRefConfig& c, const std::vector<float>& q,
                                        const std::vector<float>& k, const std::vector<float>& v,
                                        const std::vector<float>& past_k, const std::vector<float>& past_v,
                                        const MaskFn& mask, std::vector<double>* bound) {
  const int64_t D = c.head_dim;
  const int64_t total = c.past_len + c.kv_len;
  const int64_t group = c.num_heads / c.kv_num_heads;
  std::vector<double> y(static_cast<size_t>(c.batch * c.q_len * c.num_heads * D), 0.0);
  bound->assign(y.size(), 0.0);
  auto key = [&](const std::vector<float>& past, const std::vector<float>& cur, int64_t b, int64_t g, int64_t j,
                 int64_t x) -> double {
    if (j < c.past_len) return past[static_cast<size_t>(((b * c.kv_num_heads + g) * c.past_len + j) * D + x)];
    return cur[static_cast<size_t>((b * c.kv_len + (j - c.past_len)) * c.kv_num_heads * D + g * D + x)];
  };
  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t h = 0; h < c.num_heads; ++h) {
      const int64_t g = h / group;
      for (int64_t i = 0; i < c.q_len; ++i) {
        const float* qi = q.data() + (b * c.q_len + i) * c.num_heads * D + h * D;
        std::vector<double> s(static_cast<size_t>(total));
        std::vector<bool> vis(static_cast<size_t>(total), false);
        double m = -std::numeric_limits<double>::infinity();
        double err = 0;
        int64_t n = 0;
        for (int64_t j = 0; j < total; ++j) {
          if (c.causal && j > c.past_len + i) continue;
          MaskEntry me = mask ? mask(b, h, i, j) : MaskEntry{};
          if (!me.visible || me.add == -std::numeric_limits<double>::infinity()) continue;
          double dot = 0, abs_dot = 0;
          for (int64_t x = 0; x < D; ++x) {
            const double kx = key(past_k, k, b, g, j, x);
            dot += qi[x] * kx;
            abs_dot += std::fabs(qi[x] * kx);
          }
          s[static_cast<size_t>(j)] = c.scale * dot + me.add;
          vis[static_cast<size_t>(j)] = true;
          ++n;
          m = std::fmax(m, s[static_cast<size_t>(j)]);
          err = std::fmax(err, static_cast<double>(D) * c.scale * abs_dot + std::fabs(s[static_cast<size_t>(j)]) +
                                   std::fabs(me.add));
        }
        if (n == 0) continue;  // zeros
        double sum = 0;
        for (int64_t j = 0; j < total; ++j) {
          if (vis[static_cast<size_t>(j)]) sum += std::exp(s[static_cast<size_t>(j)] - m);
        }
        double* yi = y.data() + (b * c.q_len + i) * c.num_heads * D + h * D;
        double* bi = bound->data() + (b * c.q_len + i) * c.num_heads * D + h * D;
        for (int64_t j = 0; j < total; ++j) {
          if (!vis[static_cast<size_t>(j)]) continue;
          const double p = std::exp(s[static_cast<size_t>(j)] - m) / sum;
          for (int64_t x = 0; x < D; ++x) {
            const double vx = key(past_v, v, b, g, j, x);
            yi[x] += p * vx;
            bi[x] += p * std::fabs(vx);
          }
        }
        for (int64_t x = 0; x < D; ++x) bi[x] *= 2 * err + 2 * static_cast<double>(n) + 10;
      }
    }
  }
  return y;
}

struct AdditiveRefResult {
  std::vector<double> context;         // [B, E]
  std::vector<double> weights;         // [B, S]
  std::vector<double> context_bound;   // in units of u
  std::vector<double> weights_bound;   // in units of u
};

// h [B, S, E], s [B, Dd], w1 [E, A], w2 [Dd, A], v [A], lengths (empty: all S).
inline AdditiveRefResult RefAdditiveAttention(int64_t B, int64_t S, int64_t E, int64_t Dd, int64_t A,
                                              const std::vector<float>& h, const std::vector<float>& s,
                                              const std::vector<float>& w1, const std::vector<float>& w2,
                                              const std::vector<float>& v, const std::vector<int64_t>& lengths) {
  AdditiveRefResult r;
  r.context.assign(static_cast<size_t>(B * E), 0.0);
  r.weights.assign(static_cast<size_t>(B * S), 0.0);
  r.context_bound.assign(r.context.size(), 0.0);
  r.weights_bound.assign(r.weights.size(), 0.0);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t len = lengths.empty() ? S : lengths[static_cast<size_t>(b)];
    std::vector<double> qp(static_cast<size_t>(A)), qp_abs(static_cast<size_t>(A));
    for (int64_t a = 0; a < A; ++a) {
      for (int64_t x = 0; x < Dd; ++x) {
        qp[a] += static_cast<double>(s[b * Dd + x]) * w2[x * A + a];
        qp_abs[a] += std::fabs(static_cast<double>(s[b * Dd + x]) * w2[x * A + a]);
      }
    }
    std::vector<double> e(static_cast<size_t>(S));
    double max_err = 0;
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < len; ++j) {
      double ej = 0, err = 0;
      for (int64_t a = 0; a < A; ++a) {
        double key = 0, key_abs = 0;
        for (int64_t x = 0; x < E; ++x) {
          key += static_cast<double>(h[(b * S + j) * E + x]) * w1[x * A + a];
          key_abs += std::fabs(static_cast<double>(h[(b * S + j) * E + x]) * w1[x * A + a]);
        }
        const double t = std::tanh(key + qp[a]);
        ej += v[a] * t;
        // tanh' <= 1: the argument's error passes through; tanh itself and
        // the product/sum add a few u.
        err += std::fabs(v[a]) * ((static_cast<double>(E) + 2) * key_abs + (static_cast<double>(Dd) + 2) * qp_abs[a] +
                                  4 + static_cast<double>(A) * std::fabs(t));
      }
      e[j] = ej;
      max_err = std::fmax(max_err, err);
      m = std::fmax(m, ej);
    }
    double sum = 0;
    for (int64_t j = 0; j < len; ++j) sum += std::exp(e[j] - m);
    for (int64_t j = 0; j < len; ++j) {
      const double w = std::exp(e[j] - m) / sum;
      r.weights[b * S + j] = w;
      r.weights_bound[b * S + j] = w * (2 * max_err + static_cast<double>(len) + 5);
      for (int64_t x = 0; x < E; ++x) {
        const double hx = h[(b * S + j) * E + x];
        r.context[b * E + x] += w * hx;
        r.context_bound[b * E + x] += w * std::fabs(hx) * (2 * max_err + 2 * static_cast<double>(len) + 8);
      }
    }
  }
  return r;
}

}  // namespace tessera::reference

#endif  // TESSERA_TESTS_REFERENCE_ATTENTION_REFERENCE_H_
