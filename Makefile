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

bench:
	$(GO) test $(TAGS) -run '^$$' -bench . -benchtime 3x ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
