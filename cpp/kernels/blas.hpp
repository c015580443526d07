// The BLAS shim: the GEMM of the OpenBLAS that the scipy-openblas32 wheel ships (DEEPLINEAR_BLAS
// builds; see CMakeLists.txt). Its symbols carry a "scipy_" prefix, so it never clashes with
// another BLAS in the process (numpy's own OpenBLAS included).
#pragma once

namespace deeplinear::blas {

// Whether this build has the BLAS.
bool available();

// While one exists, BLAS and LAPACK calls of this thread run on `threads` BLAS threads. OpenBLAS
// keeps one process-wide thread count, and its results depend on it (how it splits a product
// changes which of its kernels compute which rows). So calls that need different counts never
// overlap: a call waits until the calls running with another count have returned, then sets its
// own; calls with the same count run concurrently. Concurrent runs then get the bits they get
// alone.
class ThreadGate {
public:
    explicit ThreadGate(int threads);
    ~ThreadGate();
    ThreadGate(const ThreadGate&) = delete;
    ThreadGate& operator=(const ThreadGate&) = delete;
};

// c = alpha·op(a)·op(b) + beta·c for n×n row-major matrices, on `threads` BLAS threads (through a
// ThreadGate). Only defined where available().
void gemm(const double* a, bool trans_a, const double* b, bool trans_b, double* c, int n, double alpha, double beta,
          int threads);
void gemm(const float* a, bool trans_a, const float* b, bool trans_b, float* c, int n, float alpha, float beta,
          int threads);

}  // namespace deeplinear::blas
