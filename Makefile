# The BLAS build: OpenBLAS (through gonum's netlib binding) when the library is installed, the pure-Go
# BLAS otherwise. Override with `make test BLAS=go` or `make test BLAS=openblas`.
BLAS ?= $(shell (ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so') && echo openblas || echo go)
ifeq ($(BLAS),openblas)
TAGS := -tags openblas
export CGO_LDFLAGS := -lopenblas
endif
GO ?= go
BIN := bin/lumina

.PHONY: build run test fuzz bench vet fmt cuda cuda-vet cuda-stubs gpu-check

build:
	$(GO) build $(TAGS) -o $(BIN) ./cmd/lumina

run: build
	./$(BIN)

test:
	$(GO) vet $(TAGS) ./...
	$(GO) test $(TAGS) -count=1 ./...

# Every fuzz target in turn for FUZZTIME each (tools/fuzz.sh). Minimizing an input is capped at
# FUZZMINIMIZE calls: at Go's default of 60 s it would take most of a short run. A failure prints the
# failing input, which go test has written to the package's testdata/fuzz/FUZZNAME/ (commit it there as a
# regression case once fixed).
FUZZTIME ?= 20s
FUZZMINIMIZE ?= 100x
FUZZPARALLEL ?= 2
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) FUZZMINIMIZE=$(FUZZMINIMIZE) FUZZPARALLEL=$(FUZZPARALLEL) tools/fuzz.sh $(TAGS)

# The Go benchmarks, then the training step and sampling forward against the PyTorch reference,
# tools/reference/nextdit.py, in the same run (the ratio Go/PyTorch; without python3-torch only the Go figures).
bench: build
	$(GO) test $(TAGS) -run '^$$' -bench . -benchtime 3x ./...
	./$(BIN) bench train

fmt:
	gofmt -w $$(git ls-files '*.go')

# The cuda build (docs/DESIGN.md §16). By default it compiles against the project's own declarations
# (tools/cuda/include) and links against stub libraries built here, so it needs neither the CUDA toolkit
# nor cuDNN; the binary loads the GPU machine's libcuda.so.1, libcublas.so.13 and libcudnn.so.9 at run
# time (CUBLAS_SONAME / CUDNN_SONAME pick other majors). On a machine with the toolkit, point
# CUDA_DECLS / CUDA_LIBS at it instead.
CUDA_DECLS ?= $(CURDIR)/tools/cuda/include
CUDA_LIBS ?= $(CURDIR)/build/cuda-stubs
CUDA_ENV = CGO_CFLAGS="-I$(CUDA_DECLS)" CGO_LDFLAGS="-L$(CUDA_LIBS)"

cuda-stubs:
	tools/cuda/stubs.sh $(CURDIR)/build/cuda-stubs

# Stripped (no symbol table or DWARF): both binaries are usually copied to the GPU machine.
cuda: cuda-stubs
	$(CUDA_ENV) $(GO) build -tags cuda -ldflags "-s -w" -o bin/lumina-cuda ./cmd/lumina
	$(CUDA_ENV) $(GO) build -tags cuda -ldflags "-s -w" -o bin/gpucheck ./tools/gpucheck

cuda-vet: cuda-stubs
	$(CUDA_ENV) $(GO) vet -tags cuda ./...
	$(CUDA_ENV) $(GO) build -tags cuda ./...

# The device verification, on a machine with a GPU (tools/gpu-check.sh; --dry-run lists the checks):
# every kernel and whole program against the CPU, then the speed ratios against the PyTorch reference.
gpu-check: cuda
	tools/gpu-check.sh
