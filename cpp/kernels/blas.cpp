// The BLAS shim (see blas.hpp).
#include "blas.hpp"

#include <condition_variable>
#include <mutex>
#include <stdexcept>

#ifdef DEEPLINEAR_BLAS
extern "C" {
void scipy_cblas_dgemm(int order, int trans_a, int trans_b, int m, int n, int k, double alpha, const double* a, int lda,
                       const double* b, int ldb, double beta, double* c, int ldc);
void scipy_cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                       const float* b, int ldb, float beta, float* c, int ldc);
void scipy_openblas_set_num_threads(int threads);
}
#endif

namespace deeplinear::blas {

bool available() {
#ifdef DEEPLINEAR_BLAS
    return true;
#else
    return false;
#endif
}

#ifdef DEEPLINEAR_BLAS
namespace {

constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

// The calls in flight and the thread count they run with (0: the BLAS's own default still).
std::mutex gate_mutex;
std::condition_variable gate_open;
int current_threads = 0;
int calls_in_flight = 0;

}  // namespace

ThreadGate::ThreadGate(int threads) {
    std::unique_lock<std::mutex> lock(gate_mutex);
    gate_open.wait(lock, [&] { return calls_in_flight == 0 || current_threads == threads; });
    if (current_threads != threads) {
        scipy_openblas_set_num_threads(threads);
        current_threads = threads;
    }
    ++calls_in_flight;
}

ThreadGate::~ThreadGate() {
    {
        std::lock_guard<std::mutex> lock(gate_mutex);
        --calls_in_flight;
    }
    gate_open.notify_all();
}

void gemm(const double* a, bool trans_a, const double* b, bool trans_b, double* c, int n, double alpha, double beta,
          int threads) {
    const ThreadGate gate(threads);
    scipy_cblas_dgemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, n, n, n, alpha, a, n, b, n,
                      beta, c, n);
}

void gemm(const float* a, bool trans_a, const float* b, bool trans_b, float* c, int n, float alpha, float beta,
          int threads) {
    const ThreadGate gate(threads);
    scipy_cblas_sgemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, n, n, n, alpha, a, n, b, n,
                      beta, c, n);
}
#else
// Never called (the dispatch chooses the BLAS only where available()), but the callers link.
void gemm(const double*, bool, const double*, bool, double*, int, double, double, int) {
    throw std::logic_error("deeplinear was built without a BLAS");
}
void gemm(const float*, bool, const float*, bool, float*, int, float, float, int) {
    throw std::logic_error("deeplinear was built without a BLAS");
}
#endif

}  // namespace deeplinear::blas
