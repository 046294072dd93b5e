// Naive double-precision references for ONNX RNN, GRU and LSTM (v14
// equations, which are those of v7), written from the operator
// specification (onnx/docs/Operators.md) and never calling kernel code:
// every time step, batch row and direction is an explicit loop over dot
// products in double, with the activations evaluated by <cmath>.
#ifndef TESSERA_TESTS_REFERENCE_RNN_REFERENCE_H_
#define TESSERA_TESTS_REFERENCE_RNN_REFERENCE_H_

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace tessera::reference {

struct RefActivation {
  std::string name;  // lower case
  double alpha = 0;
  double beta = 0;
};

// Applies one activation as the ONNX op of that name defines it.
inline double RefActivate(const RefActivation& a, double x) {
  if (a.name == "relu") return x > 0 ? x : 0;
  if (a.name == "tanh") return std::tanh(x);
  if (a.name == "sigmoid") return 1 / (1 + std::exp(-x));
  if (a.name == "affine") return a.alpha * x + a.beta;
  if (a.name == "leakyrelu") return x < 0 ? a.alpha * x : x;
  if (a.name == "thresholdedrelu") return x > a.alpha ? x : 0;
  if (a.name == "scaledtanh") return a.alpha * std::tanh(a.beta * x);
  if (a.name == "hardsigmoid") return std::max(0.0, std::min(1.0, a.alpha * x + a.beta));
  if (a.name == "elu") return x < 0 ? a.alpha * (std::exp(x) - 1) : x;
  if (a.name == "softsign") return x / (1 + std::fabs(x));
  if (a.name == "softplus") return std::log(1 + std::exp(x));
  throw std::invalid_argument("unknown activation " + a.name);
}

// Reads the activation list with alpha/beta consumed in order by the
// activations that take them; the rest get the defaults of the ONNX ops
// (LeakyRelu alpha 0.01, ThresholdedRelu 1, Elu 1, HardSigmoid 0.2/0.5,
// Affine 1/0, ScaledTanh 1/1).
inline std::vector<RefActivation> RefActivations(const std::vector<std::string>& names,
                                                 const std::vector<float>& alphas, const std::vector<float>& betas) {
  std::vector<RefActivation> out;
  size_t ia = 0, ib = 0;
  for (std::string n : names) {
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    RefActivation a{n, 0, 0};
    bool takes_alpha = true, takes_beta = false;
    if (n == "leakyrelu") {
      a.alpha = 0.01;
    } else if (n == "thresholdedrelu" || n == "elu") {
      a.alpha = 1;
    } else if (n == "hardsigmoid") {
      a.alpha = 0.2;
      a.beta = 0.5;
      takes_beta = true;
    } else if (n == "affine") {
      a.alpha = 1;
      a.beta = 0;
      takes_beta = true;
    } else if (n == "scaledtanh") {
      a.alpha = 1;
      a.beta = 1;
      takes_beta = true;
    } else {
      takes_alpha = false;
    }
    if (takes_alpha && ia < alphas.size()) a.alpha = alphas[ia++];
    if (takes_beta && ib < betas.size()) a.beta = betas[ib++];
    out.push_back(a);
  }
  return out;
}

struct RefRnnSpec {
  std::string op;  // "RNN", "GRU" or "LSTM"
  int64_t seq = 0, batch = 0, input = 0, hidden = 0;
  std::string direction = "forward";
  int layout = 0;
  bool has_clip = false;
  double clip = 0;
  // The full list (per direction, in op order); empty: the ONNX defaults.
  std::vector<std::string> activations;
  std::vector<float> alphas, betas;
  bool linear_before_reset = false;
  bool input_forget = false;
  // Inputs as stored; null pointers for omitted optional ones.
  const std::vector<float>* x = nullptr;
  const std::vector<float>* w = nullptr;
  const std::vector<float>* r = nullptr;
  const std::vector<float>* b = nullptr;
  const std::vector<int32_t>* seq_lens = nullptr;
  const std::vector<float>* initial_h = nullptr;
  const std::vector<float>* initial_c = nullptr;
  const std::vector<float>* p = nullptr;
};

struct RefRnnResult {
  std::vector<double> y;    // [seq, D, batch, H] or [batch, seq, D, H]
  std::vector<double> y_h;  // [D, batch, H] or [batch, D, H]
  std::vector<double> y_c;  // LSTM only
};

inline RefRnnResult RefRecurrent(const RefRnnSpec& s) {
  const int64_t gates = s.op == "RNN" ? 1 : s.op == "GRU" ? 3 : 4;
  const int64_t per_dir = s.op == "RNN" ? 1 : s.op == "GRU" ? 2 : 3;
  const int64_t nd = s.direction == "bidirectional" ? 2 : 1;
  const int64_t n = s.hidden, in = s.input, seq = s.seq, batch = s.batch;
  std::vector<std::string> names = s.activations;
  if (names.empty()) {
    for (int64_t d = 0; d < nd; ++d) {
      if (s.op == "RNN") names.insert(names.end(), {"Tanh"});
      if (s.op == "GRU") names.insert(names.end(), {"Sigmoid", "Tanh"});
      if (s.op == "LSTM") names.insert(names.end(), {"Sigmoid", "Tanh", "Tanh"});
    }
  }
  const std::vector<RefActivation> acts = RefActivations(names, s.alphas, s.betas);
  const auto clip = [&](double v) { return s.has_clip ? std::max(-s.clip, std::min(s.clip, v)) : v; };
  const auto x_at = [&](int64_t t, int64_t b, int64_t k) {
    return static_cast<double>((*s.x)[static_cast<size_t>((s.layout == 0 ? t * batch + b : b * seq + t) * in + k)]);
  };
  const auto state_index = [&](int64_t d, int64_t b, int64_t j) {
    return static_cast<size_t>((s.layout == 0 ? d * batch + b : b * nd + d) * n + j);
  };
  const auto y_index = [&](int64_t t, int64_t d, int64_t b, int64_t j) {
    return static_cast<size_t>((s.layout == 0 ? (t * nd + d) * batch + b : (b * seq + t) * nd + d) * n + j);
  };

  RefRnnResult out;
  out.y.assign(static_cast<size_t>(seq * nd * batch * n), 0.0);
  out.y_h.assign(static_cast<size_t>(nd * batch * n), 0.0);
  out.y_c.assign(static_cast<size_t>(nd * batch * n), 0.0);
  for (int64_t d = 0; d < nd; ++d) {
    const bool reverse = nd == 2 ? d == 1 : s.direction == "reverse";
    const RefActivation& f = acts[static_cast<size_t>(d * per_dir)];
    const RefActivation& g = acts[static_cast<size_t>(d * per_dir + (per_dir > 1 ? 1 : 0))];
    const RefActivation& h_act = acts[static_cast<size_t>(d * per_dir + (per_dir > 2 ? 2 : 0))];
    // W[d] row q (gate-major), column k; likewise R; Wb, Rb.
    const auto w = [&](int64_t q, int64_t k) { return static_cast<double>((*s.w)[static_cast<size_t>((d * gates * n + q) * in + k)]); };
    const auto r = [&](int64_t q, int64_t k) { return static_cast<double>((*s.r)[static_cast<size_t>((d * gates * n + q) * n + k)]); };
    const auto wb = [&](int64_t q) { return s.b ? static_cast<double>((*s.b)[static_cast<size_t>(d * 2 * gates * n + q)]) : 0.0; };
    const auto rb = [&](int64_t q) { return s.b ? static_cast<double>((*s.b)[static_cast<size_t>(d * 2 * gates * n + gates * n + q)]) : 0.0; };
    const auto peep = [&](int64_t q) { return s.p ? static_cast<double>((*s.p)[static_cast<size_t>(d * 3 * n + q)]) : 0.0; };
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t len = s.seq_lens ? (*s.seq_lens)[static_cast<size_t>(b)] : seq;
      std::vector<double> h(static_cast<size_t>(n), 0.0), c(static_cast<size_t>(n), 0.0);
      for (int64_t j = 0; j < n; ++j) {
        if (s.initial_h) h[static_cast<size_t>(j)] = (*s.initial_h)[state_index(d, b, j)];
        if (s.initial_c) c[static_cast<size_t>(j)] = (*s.initial_c)[state_index(d, b, j)];
      }
      for (int64_t step = 0; step < len; ++step) {
        const int64_t t = reverse ? len - 1 - step : step;
        // xw[q] = x_t . W[q] + Wb[q];  hr[q] = H_{t-1} . R[q] + Rb[q].
        std::vector<double> xw(static_cast<size_t>(gates * n)), hr(static_cast<size_t>(gates * n));
        for (int64_t q = 0; q < gates * n; ++q) {
          double sx = wb(q), sh = rb(q);
          for (int64_t k = 0; k < in; ++k) sx += x_at(t, b, k) * w(q, k);
          for (int64_t k = 0; k < n; ++k) sh += h[static_cast<size_t>(k)] * r(q, k);
          xw[static_cast<size_t>(q)] = sx;
          hr[static_cast<size_t>(q)] = sh;
        }
        std::vector<double> h_new(static_cast<size_t>(n)), c_new(static_cast<size_t>(n));
        if (s.op == "RNN") {
          for (int64_t j = 0; j < n; ++j) h_new[static_cast<size_t>(j)] = RefActivate(f, clip(xw[j] + hr[j]));
        } else if (s.op == "GRU") {
          std::vector<double> z(static_cast<size_t>(n)), rr(static_cast<size_t>(n));
          for (int64_t j = 0; j < n; ++j) {
            z[j] = RefActivate(f, clip(xw[j] + hr[j]));
            rr[j] = RefActivate(f, clip(xw[n + j] + hr[n + j]));
          }
          for (int64_t j = 0; j < n; ++j) {
            double pre;
            if (s.linear_before_reset) {
              pre = xw[2 * n + j] + rr[j] * hr[2 * n + j];  // hr includes Rbh
            } else {
              double sum = rb(2 * n + j);  // (r . H_{t-1}) Rh^T + Rbh
              for (int64_t k = 0; k < n; ++k) sum += rr[k] * h[k] * r(2 * n + j, k);
              pre = xw[2 * n + j] + sum;
            }
            const double cand = RefActivate(g, clip(pre));
            h_new[j] = (1 - z[j]) * cand + z[j] * h[j];
          }
        } else {
          for (int64_t j = 0; j < n; ++j) {
            const double i = RefActivate(f, clip(xw[j] + hr[j] + peep(j) * c[j]));
            const double fg = s.input_forget ? 1 - i : RefActivate(f, clip(xw[2 * n + j] + hr[2 * n + j] + peep(2 * n + j) * c[j]));
            const double cc = RefActivate(g, clip(xw[3 * n + j] + hr[3 * n + j]));
            c_new[j] = fg * c[j] + i * cc;
            const double o = RefActivate(f, clip(xw[n + j] + hr[n + j] + peep(n + j) * c_new[j]));
            h_new[j] = o * RefActivate(h_act, c_new[j]);
          }
          c = c_new;
        }
        h = h_new;
        for (int64_t j = 0; j < n; ++j) out.y[y_index(t, d, b, j)] = h[static_cast<size_t>(j)];
      }
      for (int64_t j = 0; j < n; ++j) {
        out.y_h[state_index(d, b, j)] = h[static_cast<size_t>(j)];
        out.y_c[state_index(d, b, j)] = c[static_cast<size_t>(j)];
      }
    }
  }
  return out;
}

}  // namespace tessera::reference

#endif  // TESSERA_TESTS_REFERENCE_RNN_REFERENCE_H_
