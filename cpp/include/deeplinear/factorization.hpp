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
#include "gemm.hpp"
#include "lapack.hpp"
#include "projections.hpp"

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>

#include <cmath>
#include <limits>
#include <optional>

namespace deeplinear {

enum class FactorStatus { ok, singular, negative_eigenvalue };

template <class T>
class BalancedFactorizer {
public:
    explicit BalancedFactorizer(Index dim)
        : lapack_svd_(dim), lapack_schur_(dim), orthogonal_(dim, dim), root_(dim, dim), inner_(dim, dim),
          layer_(dim, dim), scratch_(dim, dim), u_(dim, dim), v_(dim, dim), sigma_(dim) {
        angles_.reserve(static_cast<std::size_t>(dim / 2));
    }

    template <class In, class OutR, class OutP>
    void polar(const In& a, OutR&& r, OutP&& p) {
        svd(a);
        r.noalias() = u_ * v_.transpose();
        scratch_.noalias() = v_ * sigma_.asDiagonal();
        p.noalias() = scratch_ * v_.transpose();
    }

    // Writes the L balanced factors of `a` into `out` (out.layer(j − 1) = Θ_j) so that
    // Θ_L ⋯ Θ_1 = A. `a` must not alias `out`.
    template <class In>
    FactorStatus factor(const In& a, LayerStack<T> out) {
        svd(a);
        return factor_svd(u_, sigma_, v_, out);
    }

    // The same from the SVD A = U diag(σ) Vᵀ (σ descending).
    FactorStatus factor_svd(const ColMatrix<T>& u, const ColVector<T>& sigma, const ColMatrix<T>& v,
                            LayerStack<T> out) {
        const Index depth = out.depth, dim = out.dim;
        if (is_singular(sigma)) return FactorStatus::singular;
        const FactorStatus roots = rotation_roots(u, v);
        if (roots != FactorStatus::ok) return roots;
        scratch_.noalias() = v * sigma.array().pow(T(1) / T(depth)).matrix().asDiagonal();
        root_.noalias() = scratch_ * v.transpose();
        const ColMatrix<T>& basis = *basis_;
        scratch_.noalias() = basis.transpose() * root_;
        inner_.noalias() = scratch_ * basis;  // Qᵀ M Q

        for (Index j = 1; j <= depth; ++j) {
            layer_ = inner_;
            rotate_columns(layer_, -T(j - 1) / T(depth));
            rotate_rows(layer_, T(j) / T(depth));
            // Column-major data is the row-major transpose: scratch_ = Q·X is gemm(Xᵀ, Qᵀ) in
            // row-major terms, and Θ_j = scratch_·Qᵀ is gemm((scratch_ᵀ)ᵀ, Qᵀ).
            gemm<T>(layer_.data(), false, basis.data(), false, scratch_.data(), dim, nullptr);
            gemm<T>(scratch_.data(), true, basis.data(), false, out.data + (j - 1) * dim * dim, dim, nullptr);
        }
        return FactorStatus::ok;
    }

    // The SVD of `a`, for factor_svd (u(), sigma(), v() until the next call).
    template <class In>
    void decompose(const In& a) {
        svd(a);
    }
    const ColMatrix<T>& u() const { return u_; }
    const ColVector<T>& sigma() const { return sigma_; }
    const ColMatrix<T>& v() const { return v_; }

    // Whether A (σ descending) is singular to working precision: no principal roots.
    static bool is_singular(const ColVector<T>& sigma) {
        const T tiny = T(sigma.size()) * std::numeric_limits<T>::epsilon() * sigma(0);
        return !(sigma(sigma.size() - 1) > tiny);
    }

    // Whether the orthogonal polar factor R = U Vᵀ has real principal roots (no eigenvalue −1):
    // its real Schur form, kept for factor_svd.
    FactorStatus rotation_roots(const ColMatrix<T>& u, const ColMatrix<T>& v) {
        orthogonal_.noalias() = u * v.transpose();
        const ColMatrix<T>* schur_t = nullptr;
        if (lapack_schur_.compute(orthogonal_)) {
            schur_t = &lapack_schur_.t();
            basis_ = &lapack_schur_.q();
        } else {
            if (!schur_) schur_.emplace(orthogonal_.rows());
            schur_->compute(orthogonal_, /*computeU=*/true);
            if (schur_->info() != Eigen::Success) return FactorStatus::negative_eigenvalue;
            schur_t = &schur_->matrixT();
            basis_ = &schur_->matrixU();
        }
        return read_rotation_angles(*schur_t) ? FactorStatus::ok : FactorStatus::negative_eigenvalue;
    }

private:
    struct Block {
        Index row;
        T angle;
    };

    // U, σ, V of A: LAPACK's gesdd where the build has it, else Eigen's BDCSVD.
    template <class In>
    void svd(const In& a) {
        layer_ = a;  // column-major, as both decompositions take it (layer_ is free here)
        if (lapack_svd_.compute(layer_)) {
            u_ = lapack_svd_.u();
            v_ = lapack_svd_.vt().transpose();
            sigma_ = lapack_svd_.sigma();
            return;
        }
        if (!eigen_svd_) eigen_svd_.emplace(a.rows(), a.cols(), Eigen::ComputeThinU | Eigen::ComputeThinV);
        eigen_svd_->compute(layer_, Eigen::ComputeThinU | Eigen::ComputeThinV);
        u_ = eigen_svd_->matrixU();
        v_ = eigen_svd_->matrixV();
        sigma_ = eigen_svd_->singularValues();
    }

    // The rotation angle of each 2×2 block of T; false if a 1×1 block is −1.
    bool read_rotation_angles(const ColMatrix<T>& t) {
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

    LapackSvd<T> lapack_svd_;
    LapackSchur<T> lapack_schur_;
    std::optional<Eigen::BDCSVD<ColMatrix<T>>> eigen_svd_;  // without LAPACK, or where it fails
    std::optional<Eigen::RealSchur<ColMatrix<T>>> schur_;
    ColMatrix<T> orthogonal_, root_, inner_, layer_, scratch_, u_, v_;
    ColVector<T> sigma_;
    std::vector<Block> angles_;
    const ColMatrix<T>* basis_ = nullptr;  // Q of R = Q T Qᵀ after rotation_roots()
};

}  // namespace deeplinear
