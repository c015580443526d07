// Polar decomposition and the balanced factorization of Definition 3 (Sec. 5).
//   A = R P (R orthogonal, P symmetric PSD) from one SVD A = U Σ Vᵀ: R = U Vᵀ, P = V Σ Vᵀ.
//   Principal roots: P^{1/L} = V Σ^{1/L} Vᵀ; R = Q T Qᵀ in real Schur form, T block diagonal
//   with 2×2 rotations by θ ∈ (−π, π) and 1×1 blocks +1, so R^s = Q T^s Qᵀ rotates by sθ. An
//   eigenvalue −1 of R (a 1×1 block −1) has no real principal root.
//   With M = P^{1/L}, Def. 3's factors A_i = R^{1/L} R^{(L−i)/L} M R^{−(L−i)/L} multiply as
//   A_1 ⋯ A_L = A; the network multiplies as Θ_L ⋯ Θ_1, so Θ_j = A_{L−j+1} = R^{j/L} M R^{−(j−1)/L}.
//   Each layer is M between orthogonal factors: singular values σ(A)^{1/L} (Lemma 7).
#pragma once

#include <optional>
#include <vector>

#include "common.hpp"
#include "decompositions.hpp"
#include "execution.hpp"
#include "gemm.hpp"
#include "lapack.hpp"

namespace deeplinear {

enum class FactorStatus { ok, singular, negative_eigenvalue };

// The work is out of line (cpp/core/factorization.cpp); the templates below only copy their
// arguments into column-major work matrices.
template <class T>
class BalancedFactorizer {
public:
    // The products of the factors run as `context` says (see execution.hpp); LAPACK's SVD and
    // Schur form on one thread whatever its count (see lapack.hpp).
    BalancedFactorizer(Index dim, const ExecutionContext& context);

    template <class In, class OutR, class OutP>
    void polar(const In& a, OutR&& r, OutP&& p) {
        layer_ = a;
        polar_of_layer();
        r = orthogonal_;
        p = root_;
    }

    // Writes the L balanced factors of `a` into `out` (out.layer(j − 1) = Θ_j) so that
    // Θ_L ⋯ Θ_1 = A. `a` must not alias `out`. Refused (singular) when A is singular to working
    // precision: its R = UVᵀ, and with it the factors, would be set by the SVD's rounding.
    template <class In>
    FactorStatus factor(const In& a, LayerStack<T> out) {
        decompose(a);
        if (is_singular(sigma_)) return FactorStatus::singular;
        return factor_svd(u_, sigma_, v_, out);
    }

    // The same from the SVD A = U diag(σ) Vᵀ (σ descending), whose U and V are taken as given
    // however small σ_min is (not refused as singular).
    FactorStatus factor_svd(const ColMatrix<T>& u, const ColVector<T>& sigma, const ColMatrix<T>& v, LayerStack<T> out);

    // The SVD of `a`, for factor_svd (u(), sigma(), v() until the next call).
    template <class In>
    void decompose(const In& a) {
        layer_ = a;  // column-major, as both decompositions take it (layer_ is free here)
        svd_of_layer();
    }
    const ColMatrix<T>& u() const { return u_; }
    const ColVector<T>& sigma() const { return sigma_; }
    const ColMatrix<T>& v() const { return v_; }

    // The SVD of `a` straight into u, sigma and v (d × d, d), with LAPACK's copy of `a`, its Vᵀ
    // and its workspace in `lent` (lent_size() elements, e.g. a caller's spent buffers): the
    // factorizer's own matrices stay unmade. The same values as decompose() and u(), sigma(), v().
    void decompose_lent(const ColMatrix<T>& a, ColMatrix<T>& u, ColVector<T>& sigma, ColMatrix<T>& v, T* lent);
    Index lent_size() const;

    // Whether A (σ descending) is singular to working precision: no principal roots.
    static bool is_singular(const ColVector<T>& sigma);

    // Whether the orthogonal polar factor R = U Vᵀ has real principal roots (no eigenvalue −1):
    // its real Schur form, kept for factor_svd.
    FactorStatus rotation_roots(const ColMatrix<T>& u, const ColMatrix<T>& v);

private:
    struct Block {
        Index row;
        T angle;
    };

    // U, σ, V of layer_: LAPACK's gesdd where the build has it, else Eigen's Jacobi SVD (svd.cpp).
    void svd_of_layer();
    // orthogonal_ = R, root_ = P of layer_ = R P.
    void polar_of_layer();
    // The rotation angle of each 2×2 block of T; false if a 1×1 block is −1.
    bool read_rotation_angles(const ColMatrix<T>& t);
    // x ← T^s x: rows (k, k+1) of each block rotated by s·θ.
    void rotate_rows(ColMatrix<T>& x, T power) const;
    // x ← x T^s: columns (k, k+1) of each block rotated by s·θ.
    void rotate_columns(ColMatrix<T>& x, T power) const;

    Products<T> products_;
    LapackSvd<T> lapack_svd_;
    LapackSchur<T> lapack_schur_;
    std::optional<Svd<T>> eigen_svd_;  // without LAPACK, or where it fails
    std::optional<RealSchur<T>> schur_;
    ColMatrix<T> orthogonal_, root_, inner_, layer_, scratch_, u_, v_;
    ColVector<T> sigma_;
    std::vector<Block> angles_;
    const ColMatrix<T>* basis_ = nullptr;  // Q of R = Q T Qᵀ after rotation_roots()
};

extern template class BalancedFactorizer<double>;
extern template class BalancedFactorizer<float>;

}  // namespace deeplinear
