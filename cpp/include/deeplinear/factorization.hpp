// Polar decomposition and the balanced factorization of Definition 3 (Sec. 5).
//   A = R P (R orthogonal, P symmetric PSD) from one SVD A = U Σ Vᵀ: R = U Vᵀ, P = V Σ Vᵀ.
//   Principal roots: P^{1/L} = V Σ^{1/L} Vᵀ; R = Q T Qᵀ in real Schur form, T block diagonal
//   with 2×2 rotations by θ ∈ (−π, π) and 1×1 blocks +1, so R^s = Q T^s Qᵀ rotates by sθ. An
//   eigenvalue −1 of R (a 1×1 block −1) has no real principal root.
//   With M = P^{1/L}, Def. 3's factors A_i = R^{1/L} R^{(L−i)/L} M R^{−(L−i)/L} multiply as
//   A_1 ⋯ A_L = A; the network multiplies as Θ_L ⋯ Θ_1, so Θ_j = A_{L−j+1} = R^{j/L} M R^{−(j−1)/L}.
//   Each layer is M between orthogonal factors: singular values σ(A)^{1/L} (Lemma 7).
#pragma once

#include "common.hpp"
#include "projections.hpp"

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>

#include <cmath>
#include <limits>

namespace deeplinear {

enum class FactorStatus { ok, singular, negative_eigenvalue };

template <class T>
class BalancedFactorizer {
public:
    explicit BalancedFactorizer(Index dim)
        : svd_(dim, dim, Eigen::ComputeThinU | Eigen::ComputeThinV), schur_(dim), orthogonal_(dim, dim),
          root_(dim, dim), inner_(dim, dim), layer_(dim, dim), scratch_(dim, dim) {
        angles_.reserve(static_cast<std::size_t>(dim / 2));
    }

    template <class In, class OutR, class OutP>
    void polar(const In& a, OutR&& r, OutP&& p) {
        svd_.compute(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
        r.noalias() = svd_.matrixU() * svd_.matrixV().transpose();
        scratch_.noalias() = svd_.matrixV() * svd_.singularValues().asDiagonal();
        p.noalias() = scratch_ * svd_.matrixV().transpose();
    }

    // Writes the L balanced factors of `a` into `out` (out.layer(j − 1) = Θ_j) so that
    // Θ_L ⋯ Θ_1 = A. `a` must not alias `out`.
    template <class In>
    FactorStatus factor(const In& a, LayerStack<T> out) {
        const Index depth = out.depth;
        svd_.compute(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
        const auto& sigma = svd_.singularValues();
        const T tiny = T(a.rows()) * std::numeric_limits<T>::epsilon() * sigma(0);
        if (!(sigma(sigma.size() - 1) > tiny)) return FactorStatus::singular;

        orthogonal_.noalias() = svd_.matrixU() * svd_.matrixV().transpose();
        scratch_.noalias() = svd_.matrixV() * sigma.array().pow(T(1) / T(depth)).matrix().asDiagonal();
        root_.noalias() = scratch_ * svd_.matrixV().transpose();

        schur_.compute(orthogonal_, /*computeU=*/true);
        if (schur_.info() != Eigen::Success || !read_rotation_angles()) return FactorStatus::negative_eigenvalue;
        const auto& basis = schur_.matrixU();
        scratch_.noalias() = basis.transpose() * root_;
        inner_.noalias() = scratch_ * basis;  // Qᵀ M Q

        for (Index j = 1; j <= depth; ++j) {
            layer_ = inner_;
            rotate_columns(layer_, -T(j - 1) / T(depth));
            rotate_rows(layer_, T(j) / T(depth));
            scratch_.noalias() = basis * layer_;
            out.layer(j - 1).noalias() = scratch_ * basis.transpose();
        }
        return FactorStatus::ok;
    }

private:
    struct Block {
        Index row;
        T angle;
    };

    // The rotation angle of each 2×2 block of T; false if a 1×1 block is −1.
    bool read_rotation_angles() {
        const auto& t = schur_.matrixT();
        angles_.clear();
        for (Index k = 0; k < t.rows();) {
            if (k + 1 < t.rows() && t(k + 1, k) != T(0)) {
                const T sine = T(0.5) * (t(k + 1, k) - t(k, k + 1));
                const T cosine = T(0.5) * (t(k, k) + t(k + 1, k + 1));
                angles_.push_back({k, std::atan2(sine, cosine)});
                k += 2;
            } else {
                if (t(k, k) < T(0)) return false;
                k += 1;
            }
        }
        return true;
    }

    // x ← T^s x: rows (k, k+1) of each block rotated by s·θ.
    void rotate_rows(ColMatrix<T>& x, T power) const {
        for (const Block& block : angles_) {
            const T c = std::cos(power * block.angle), s = std::sin(power * block.angle);
            for (Index col = 0; col < x.cols(); ++col) {
                const T upper = x(block.row, col), lower = x(block.row + 1, col);
                x(block.row, col) = c * upper - s * lower;
                x(block.row + 1, col) = s * upper + c * lower;
            }
        }
    }

    // x ← x T^s: columns (k, k+1) of each block rotated by s·θ.
    void rotate_columns(ColMatrix<T>& x, T power) const {
        for (const Block& block : angles_) {
            const T c = std::cos(power * block.angle), s = std::sin(power * block.angle);
            auto left = x.col(block.row);
            auto right = x.col(block.row + 1);
            for (Index row = 0; row < x.rows(); ++row) {
                const T l = left(row), r = right(row);
                left(row) = c * l + s * r;
                right(row) = -s * l + c * r;
            }
        }
    }

    Eigen::BDCSVD<ColMatrix<T>> svd_;
    Eigen::RealSchur<ColMatrix<T>> schur_;
    ColMatrix<T> orthogonal_, root_, inner_, layer_, scratch_;
    std::vector<Block> angles_;
};

}  // namespace deeplinear
