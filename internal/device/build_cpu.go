//go:build !cuda

package device

// CUDABuilt reports whether this binary was built with the cuda tag (`make cuda`).
const CUDABuilt = false
