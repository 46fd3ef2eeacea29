# The BLAS build: OpenBLAS (through gonum's netlib binding) when the library is installed, the pure-Go
# BLAS otherwise. Override with `make test BLAS=go` or `make test BLAS=openblas`.
BLAS ?= $(shell (ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so') && echo openblas || echo go)
ifeq ($(BLAS),openblas)
TAGS := -tags openblas
export CGO_LDFLAGS := -lopenblas
endif
GO ?= go
BIN := bin/lumina

.PHONY: build run test bench vet fmt

build:
	$(GO) build $(TAGS) -o $(BIN) ./cmd/lumina

run: build
	./$(BIN)

test:
	$(GO) vet $(TAGS) ./...
	$(GO) test $(TAGS) -count=1 ./...

# The Go benchmarks, then the training step and sampling forward against the PyTorch reference,
# tools/reference/nextdit.py, in the same run (the ratio Go/PyTorch; without python3-torch only the Go figures).
bench: build
	$(GO) test $(TAGS) -run '^$$' -bench . -benchtime 3x ./...
	./$(BIN) bench train

fmt:
	gofmt -w $$(git ls-files '*.go')
