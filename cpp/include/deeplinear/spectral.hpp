// The exact reduction of gradient descent from the identity for symmetric Φ (Lemmas 5–6):
// with Φ = U diag(μ) Uᵀ every layer is U diag(a) Uᵀ and each a_k follows
//   a_k ← a_k − η a_k^{L−1} (a_k^L − μ_k),  a_k(0) = 1,  ℓ = ½ Σ_k (a_k^L − μ_k)².
#pragma once

#include "common.hpp"

#include <algorithm>

namespace deeplinear {

template <class T>
class SpectralStepper {
public:
    using Vector = Eigen::Array<T, Eigen::Dynamic, 1>;

    SpectralStepper(T* a, const T* mu, Index dim, Index depth, T lr)
        : result_(a), mu_(mu, dim), depth_(depth), lr_(lr), current_(Eigen::Map<Vector>(a, dim)), next_(dim),
          power_(dim), residual_(dim), base_(dim) {}

    // Starts a run from the caller's a (finish() left it current).
    void begin() { current_ = Eigen::Map<const Vector>(result_, current_.size()); }

    T evaluate() {
        integer_power(current_, depth_ - 1, power_);  // a^{L−1}
        residual_ = power_ * current_ - mu_;          // a^L − μ
        return T(0.5) * residual_.square().sum();
    }

    void advance() {
        next_ = current_ - lr_ * power_ * residual_;
        current_.swap(next_);
    }

    void revert() { current_.swap(next_); }

    void set_lr(T lr) { lr_ = lr; }

    void finish() { std::copy(current_.data(), current_.data() + current_.size(), result_); }

    void diagnose(double*) {}  // not recorded: the spectral state has no layers

private:
    // out = x^n elementwise by repeated squaring (n >= 0): O(log n) passes, exact for negative x.
    void integer_power(const Vector& x, Index n, Vector& out) {
        out.setOnes();
        base_ = x;
        while (n > 0) {
            if (n & 1) out *= base_;
            n >>= 1;
            if (n > 0) base_ = base_.square();
        }
    }

    T* result_;
    Eigen::Map<const Vector> mu_;
    Index depth_;
    T lr_;
    Vector current_, next_, power_, residual_, base_;
};

}  // namespace deeplinear
