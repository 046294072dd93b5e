// Naive references for the ONNX data-movement ops (Transpose, Slice,
// Gather, Concat, Expand/Where broadcasting), written from the definitions
// with per-element multi-index arithmetic; never kernel code. Values are
// only moved, so the references are exact and tests compare bit for bit.
#ifndef TESSERA_TESTS_REFERENCE_SHAPE_REFERENCE_H_
#define TESSERA_TESTS_REFERENCE_SHAPE_REFERENCE_H_

#include <algorithm>
#include <cstdint>
#include <vector>

namespace tessera::reference {

using Dims = std::vector<int64_t>;

inline Dims Unflatten(int64_t flat, const Dims& shape) {
  Dims idx(shape.size());
  for (size_t k = shape.size(); k-- > 0;) {
    idx[k] = flat % shape[k];
    flat /= shape[k];
  }
  return idx;
}

inline int64_t Flatten(const Dims& idx, const Dims& shape) {
  int64_t flat = 0;
  for (size_t k = 0; k < shape.size(); ++k) flat = flat * shape[k] + idx[k];
  return flat;
}

inline int64_t Count(const Dims& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// out[j] = in[i] with i[perm[k]] = j[k].
template <typename T>
std::vector<T> RefTranspose(const std::vector<T>& in, const Dims& shape, const Dims& perm, Dims* out_shape) {
  out_shape->clear();
  for (int64_t p : perm) out_shape->push_back(shape[static_cast<size_t>(p)]);
  std::vector<T> out(in.size());
  for (int64_t flat = 0; flat < Count(*out_shape); ++flat) {
    const Dims j = Unflatten(flat, *out_shape);
    Dims i(shape.size());
    for (size_t k = 0; k < perm.size(); ++k) i[static_cast<size_t>(perm[k])] = j[k];
    out[static_cast<size_t>(flat)] = in[static_cast<size_t>(Flatten(i, shape))];
  }
  return out;
}

// ONNX Slice with per-dim (start, end, step) already given for every dim
// (unsliced dims: 0, dim, 1); bounds are resolved here from the spec text.
template <typename T>
std::vector<T> RefSlice(const std::vector<T>& in, const Dims& shape, Dims starts, Dims ends, const Dims& steps,
                        Dims* out_shape) {
  out_shape->clear();
  std::vector<Dims> picks(shape.size());
  for (size_t k = 0; k < shape.size(); ++k) {
    const int64_t dim = shape[k];
    int64_t s = starts[k] < 0 ? starts[k] + dim : starts[k];
    int64_t e = ends[k] < 0 ? ends[k] + dim : ends[k];
    if (steps[k] > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      for (int64_t i = s; i < e; i += steps[k]) picks[k].push_back(i);
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      for (int64_t i = s; i > e; i += steps[k]) picks[k].push_back(i);
    }
    out_shape->push_back(static_cast<int64_t>(picks[k].size()));
  }
  std::vector<T> out;
  for (int64_t flat = 0; flat < Count(*out_shape); ++flat) {
    const Dims j = Unflatten(flat, *out_shape);
    Dims i(shape.size());
    for (size_t k = 0; k < shape.size(); ++k) i[k] = picks[k][static_cast<size_t>(j[k])];
    out.push_back(in[static_cast<size_t>(Flatten(i, shape))]);
  }
  return out;
}

// Gather along `axis`; indices may be negative (counted from the back).
template <typename T>
std::vector<T> RefGather(const std::vector<T>& data, const Dims& shape, const std::vector<int64_t>& indices,
                         const Dims& indices_shape, int64_t axis, Dims* out_shape) {
  out_shape->assign(shape.begin(), shape.begin() + axis);
  out_shape->insert(out_shape->end(), indices_shape.begin(), indices_shape.end());
  out_shape->insert(out_shape->end(), shape.begin() + axis + 1, shape.end());
  std::vector<T> out;
  const size_t q = indices_shape.size();
  for (int64_t flat = 0; flat < Count(*out_shape); ++flat) {
    const Dims j = Unflatten(flat, *out_shape);
    Dims idx_pos(j.begin() + axis, j.begin() + axis + static_cast<int64_t>(q));
    int64_t k = indices[static_cast<size_t>(Flatten(idx_pos, indices_shape))];
    if (k < 0) k += shape[static_cast<size_t>(axis)];
    Dims i(j.begin(), j.begin() + axis);
    i.push_back(k);
    i.insert(i.end(), j.begin() + axis + static_cast<int64_t>(q), j.end());
    out.push_back(data[static_cast<size_t>(Flatten(i, shape))]);
  }
  return out;
}

// Flat index into a tensor of `shape` that numpy broadcasting reads for
// output index `j` of `out_shape`.
inline int64_t BroadcastSource(const Dims& j, const Dims& shape, const Dims& out_shape) {
  Dims i(shape.size());
  const size_t shift = out_shape.size() - shape.size();
  for (size_t k = 0; k < shape.size(); ++k) i[k] = shape[k] == 1 ? 0 : j[shift + k];
  return Flatten(i, shape);
}

}  // namespace tessera::reference

#endif  // TESSERA_TESTS_REFERENCE_SHAPE_REFERENCE_H_
