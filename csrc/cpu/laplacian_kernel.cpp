// Laplacian-pyramid normalization of a gradient on the CPU (the reference:
// fastdream.ops.reference.laplacian_normalize).
//
// Gaussian levels G0 = grad, G[i+1] = down(G[i]) (5x5 binomial, reflect, stride 2); bands
// B[i] = G[i] - up(G[i+1]) (bilinear, align_corners=False), B[L-1] = G[L-1]; r[i] = RMS of B[i]
// per sample; out = sum of up^i(B[i] / r[i]). Because up is linear the merge never forms a
// full-size band: out[L-1] = G[L-1] / r[L-1], then out[i] = up(out[i+1] - G[i+1] / r[i]) + G[i] / r[i].
// So the full-size image is read three times (down, the RMS of B[0], the merge) and written
// once; everything else happens at a quarter of the size or less, in planar scratch buffers.
#include <cmath>
#include <stdexcept>
#include <vector>

#include "../checks.h"
#include "../fastdream.h"
#include "parallel.h"

namespace fastdream {
namespace cpu {
namespace {

constexpr double kBinomial[5] = {1.0 / 16, 4.0 / 16, 6.0 / 16, 4.0 / 16, 1.0 / 16};

inline int64_t reflect(int64_t i, int64_t n) { return i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i); }

// One channel plane of a level: either the strided input/output or a planar scratch buffer.
template <typename T>
struct Plane {
  T* data;
  int64_t h, w, sh, sw;
  T& at(int64_t y, int64_t x) const { return data[y * sh + x * sw]; }
};

// Bilinear sampling positions of align_corners=False upsampling from `in` to `out` pixels, as
// torch computes them: src = (dst + 0.5) * in / out - 0.5, clamped at 0.
struct Axis {
  std::vector<int64_t> i0, i1;
  std::vector<double> t;
  Axis(int64_t in, int64_t out) : i0(out), i1(out), t(out) {
    const double scale = double(in) / double(out);
    for (int64_t d = 0; d < out; ++d) {
      double s = std::max(0.0, (d + 0.5) * scale - 0.5);
      int64_t a = std::min<int64_t>(int64_t(s), in - 1);
      i0[d] = a;
      i1[d] = std::min<int64_t>(a + 1, in - 1);
      t[d] = s - a;
    }
  }
};

// A row of up(coarse) at fine row y, into row[0, w).
template <typename T>
inline void up_row(const Plane<T>& c, const Axis& ay, const Axis& ax, int64_t y, double* row,
                   double* tmp) {
  const int64_t a = ay.i0[y], b = ay.i1[y];
  const double t = ay.t[y];
  for (int64_t x = 0; x < c.w; ++x) tmp[x] = (1 - t) * double(c.at(a, x)) + t * double(c.at(b, x));
  for (size_t x = 0; x < ax.t.size(); ++x)
    row[x] = (1 - ax.t[x]) * tmp[ax.i0[x]] + ax.t[x] * tmp[ax.i1[x]];
}

template <typename T>
void down(const Plane<T>& f, const Plane<T>& c, std::vector<double>& tmp) {
  tmp.resize(f.w);
  for (int64_t y = 0; y < c.h; ++y) {
    for (int64_t x = 0; x < f.w; ++x) {
      double s = 0;
      for (int k = 0; k < 5; ++k) s += kBinomial[k] * double(f.at(reflect(2 * y + k - 2, f.h), x));
      tmp[x] = s;
    }
    for (int64_t x = 0; x < c.w; ++x) {
      double s = 0;
      for (int k = 0; k < 5; ++k) s += kBinomial[k] * tmp[reflect(2 * x + k - 2, f.w)];
      c.at(y, x) = T(s);
    }
  }
}

template <typename T>
void laplacian_impl(const LaplacianArgs& a, int threads) {
  const Tensor4& s = a.src;
  const Tensor4& d = a.dst;
  // Level sizes, as the reference makes them: another level while the smaller side is >= 4.
  std::vector<int64_t> hs{s.h}, ws{s.w};
  while (int64_t(hs.size()) < a.levels && std::min(hs.back(), ws.back()) >= 4) {
    hs.push_back((hs.back() + 1) / 2);
    ws.push_back((ws.back() + 1) / 2);
  }
  const int64_t L = hs.size(), C = s.c;
  std::vector<Axis> ay, ax;  // upsampling from level i+1 to level i
  for (int64_t i = 0; i + 1 < L; ++i) {
    ay.emplace_back(hs[i + 1], hs[i]);
    ax.emplace_back(ws[i + 1], ws[i]);
  }
  // Work item: one sample; its channels and levels are done in order (the RMS couples them).
  parallel_for(s.n, threads_for(threads, s.n * C * s.h * s.w), 1, [&](int64_t nb, int64_t ne, int) {
    std::vector<std::vector<T>> G(L), O(L);  // G[0] and O[0] are the tensors themselves
    std::vector<double> tmp(std::max(s.w, int64_t(8))), row(s.w);
    auto level = [&](std::vector<std::vector<T>>& buf, int64_t n, int64_t i, int64_t c, bool out) {
      if (i == 0) {
        const Tensor4& t = out ? d : s;
        return Plane<T>{static_cast<T*>(t.data) + n * t.sn + c * t.sc, t.h, t.w, t.sh, t.sw};
      }
      return Plane<T>{buf[i].data() + c * hs[i] * ws[i], hs[i], ws[i], ws[i], 1};
    };
    for (int64_t n = nb; n < ne; ++n) {
      for (int64_t i = 1; i < L; ++i) {
        G[i].assign(C * hs[i] * ws[i], T(0));
        O[i].assign(C * hs[i] * ws[i], T(0));
        for (int64_t c = 0; c < C; ++c)
          down(level(G, n, i - 1, c, false), level(G, n, i, c, false), tmp);
      }
      std::vector<double> r(L);
      for (int64_t i = 0; i < L; ++i) {
        double sum = 0;
        for (int64_t c = 0; c < C; ++c) {
          const Plane<T> g = level(G, n, i, c, false);
          for (int64_t y = 0; y < g.h; ++y) {
            if (i + 1 < L)
              up_row(level(G, n, i + 1, c, false), ay[i], ax[i], y, row.data(), tmp.data());
            for (int64_t x = 0; x < g.w; ++x) {
              const double b = double(g.at(y, x)) - (i + 1 < L ? row[x] : 0.0);
              sum += b * b;
            }
          }
        }
        r[i] = std::sqrt(sum / double(C * hs[i] * ws[i]) + a.eps);
      }
      for (int64_t i = L - 1; i >= 0; --i) {
        for (int64_t c = 0; c < C; ++c) {
          const Plane<T> g = level(G, n, i, c, false), o = level(O, n, i, c, i == 0);
          for (int64_t y = 0; y < g.h; ++y) {
            if (i + 1 < L)
              up_row(level(O, n, i + 1, c, false), ay[i], ax[i], y, row.data(), tmp.data());
            for (int64_t x = 0; x < g.w; ++x)
              o.at(y, x) = T((i + 1 < L ? row[x] : 0.0) + double(g.at(y, x)) / r[i]);
          }
          if (i > 0) {  // out[i] - G[i] / r[i-1]: what the next finer level upsamples
            for (int64_t y = 0; y < g.h; ++y)
              for (int64_t x = 0; x < g.w; ++x)
                o.at(y, x) = T(double(o.at(y, x)) - double(g.at(y, x)) / r[i - 1]);
          }
        }
      }
    }
  });
}

}  // namespace

void laplacian_normalize(const LaplacianArgs& a, int dtype, int threads) {
  check_laplacian(a, "laplacian_normalize");
  switch (dtype) {
    case kFloat32:
      return laplacian_impl<float>(a, threads);
    case kFloat64:
      return laplacian_impl<double>(a, threads);
    default:
      throw std::invalid_argument(
          "laplacian_normalize: the CPU kernel supports float32 and float64");
  }
}

}  // namespace cpu
}  // namespace fastdream
