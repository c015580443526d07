// Dense decompositions behind classes whose members are defined out of line (cpp/core/svd.cpp,
// symmetric_eigen.cpp, real_schur.cpp, one_sided_jacobi.cpp): each is compiled once per scalar
// type, not in every translation unit that uses it (an SVD alone takes about a minute and 1 GB
// per type).
#pragma once

#include <limits>
#include <memory>
#include <vector>

#include "common.hpp"

namespace deeplinear {

// A = V diag(λ) Vᵀ for symmetric A (its lower triangle is read), λ ascending
// (Eigen::SelfAdjointEigenSolver).
template <class T>
class SymmetricEigen {
public:
    explicit SymmetricEigen(Index dim);
    ~SymmetricEigen();
    SymmetricEigen(SymmetricEigen&&) noexcept;
    SymmetricEigen& operator=(SymmetricEigen&&) noexcept;

    // with_vectors: also the eigenvectors (several times the cost of the eigenvalues alone)
    void compute(const ColMatrix<T>& a, bool with_vectors);
    const ColVector<T>& eigenvalues() const;
    const ColMatrix<T>& eigenvectors() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// A = U diag(σ) Vᵀ for square A, σ descending (Jacobi up to 16 rows, LAPACK's gesdd above where
// the build has it; the singular values alone by one-sided Jacobi where there is no gesdd;
// cpp/core/svd.cpp).
template <class T>
class Svd {
public:
    explicit Svd(Index dim);
    ~Svd();
    Svd(Svd&&) noexcept;
    Svd& operator=(Svd&&) noexcept;

    // with_vectors: also U and V. False where `a` is not finite (no decomposition): the
    // singular values are then NaN, and u() and v() are not the result.
    bool compute(const ColMatrix<T>& a, bool with_vectors);
    // LAPACK's SVD with U and Vᵀ on buffers the caller lends (LapackSvd::compute_lent): a (d × d,
    // column-major, destroyed), u and vt (d × d) and work (lent_work_size() elements). False
    // where this size has no LAPACK path (lent_work_size() is 0) or gesdd failed; the caller then
    // uses compute(). After true, singular_values() is σ; u() and v() are not the result.
    bool compute_lent(T* a, T* u, T* vt, T* work);
    Index lent_work_size() const;
    const ColVector<T>& singular_values() const;
    const ColMatrix<T>& u() const;
    const ColMatrix<T>& v() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// A·V = W with V orthogonal and W's columns mutually orthogonal to rounding (so A = W Vᵀ and
// σ_i = ‖w_i‖ are A's singular values, in no particular order), by Hestenes' one-sided Jacobi
// rotations of A's columns (cpp/core/one_sided_jacobi.cpp). For the ψ-ball projection at small
// d, which needs W = UΣ, not U: three times faster than Svd's two-sided Jacobi at d = 8-16.
template <class T>
class OneSidedJacobi {
public:
    explicit OneSidedJacobi(Index dim);

    // False where `a` is not finite, or is not diagonal and has its largest entry beyond
    // 2^±(max_exponent/2) (2^±512 for double): w, v and sigma are then not the result, and Svd
    // decomposes it. Without with_vectors, V is not accumulated (v() is not the result).
    // scale_of_result: W is exact to ε·min(‖A‖_F, scale_of_result) (its columns orthogonal to
    // that, absolutely, or to √d·ε relative to their own norms); the default, ε·‖A‖_F, is what
    // the singular values need.
    bool compute(const ColMatrix<T>& a, bool with_vectors = true,
                 T scale_of_result = std::numeric_limits<T>::infinity());
    const ColMatrix<T>& w() const { return w_; }
    const ColMatrix<T>& v() const { return v_; }
    const ColVector<T>& sigma() const { return sigma_; }
    // The sweeps the last compute() made (the last of them rotated nothing, unless it hit the cap).
    int sweeps() const { return sweeps_; }

private:
    Index dim_;
    ColMatrix<T> w_, v_;
    ColVector<T> sigma_, norms_, gram_, alpha_, beta_, cosine_, tangent_;  // from gram_: one round's
    std::vector<Index> pairs_;  // the rounds' disjoint column pairs (p, q), d/2 a round
    int sweeps_ = 0;
};

// A = Q T Qᵀ, T quasi-upper-triangular, Q orthogonal (Eigen::RealSchur); false if it failed.
template <class T>
class RealSchur {
public:
    explicit RealSchur(Index dim);
    ~RealSchur();
    RealSchur(RealSchur&&) noexcept;
    RealSchur& operator=(RealSchur&&) noexcept;

    bool compute(const ColMatrix<T>& a);
    const ColMatrix<T>& t() const;
    const ColMatrix<T>& q() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

extern template class SymmetricEigen<double>;
extern template class SymmetricEigen<float>;
extern template class Svd<double>;
extern template class Svd<float>;
extern template class RealSchur<double>;
extern template class RealSchur<float>;
extern template class OneSidedJacobi<double>;
extern template class OneSidedJacobi<float>;

}  // namespace deeplinear
