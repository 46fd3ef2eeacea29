package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// cudnnExtra are the functions that only cu/dnn's own C (convolution.c) calls, so no Go call site shows
// their parameters; and the return types that are not cudnnStatus_t. Written from the cuDNN API.
var cudnnExtra = map[string]string{
	"cudnnCreateConvolutionDescriptor": "cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *convDesc);",
	"cudnnSetConvolutionMathType":      "cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t mathType);",
	"cudnnSetConvolutionGroupCount":    "cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t convDesc, int groupCount);",
	"cudnnSetConvolution2dDescriptor": "cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t convDesc, int pad_h, int pad_w, " +
		"int u, int v, int dilation_h, int dilation_w, cudnnConvolutionMode_t mode, cudnnDataType_t computeType);",
	"cudnnSetConvolutionNdDescriptor": "cudnnStatus_t cudnnSetConvolutionNdDescriptor(cudnnConvolutionDescriptor_t convDesc, int arrayLength, " +
		"const int padA[], const int filterStrideA[], const int dilationA[], cudnnConvolutionMode_t mode, cudnnDataType_t computeType);",
}

var cudnnReturns = map[string]string{
	"cudnnGetVersion":          "size_t",
	"cudnnGetCudartVersion":    "size_t",
	"cudnnGetMaxDeviceVersion": "size_t",
	"cudnnGetErrorString":      "const char *",
}

// cudnnTypeKind sorts the cuDNN type names: opaque handles, plain structs, enums.
func cudnnTypeDecl(name string, enums map[string][]string) string {
	base := strings.TrimSuffix(name, "_t")
	switch {
	case name == "cudnnBackendDescriptor_t":
		return "typedef void *cudnnBackendDescriptor_t;"
	case name == "cudnnAlgorithm_t":
		return "typedef struct {\n\tunion {\n\t\tcudnnConvolutionFwdAlgo_t convFwdAlgo;\n\t\tcudnnConvolutionBwdFilterAlgo_t convBwdFilterAlgo;\n" +
			"\t\tcudnnConvolutionBwdDataAlgo_t convBwdDataAlgo;\n\t\tcudnnRNNAlgo_t RNNAlgo;\n\t\tcudnnCTCLossAlgo_t CTCLossAlgo;\n\t} algo;\n} cudnnAlgorithm_t;"
	case strings.HasSuffix(name, "AlgoPerf_t"):
		algo := strings.TrimSuffix(name, "Perf_t") + "_t"
		return "typedef struct {\n\t" + algo + " algo;\n\tcudnnStatus_t status;\n\tfloat time;\n\tsize_t memory;\n" +
			"\tcudnnDeterminism_t determinism;\n\tcudnnMathType_t mathType;\n\tint reserved[3];\n} " + name + ";"
	case strings.HasSuffix(base, "Descriptor") || strings.HasSuffix(base, "Handle") || strings.HasSuffix(base, "Plan") ||
		strings.HasSuffix(base, "Pack") || base == "cudnnAlgorithmPerformance":
		return "typedef struct " + base + "Struct *" + name + ";"
	}
	var b strings.Builder
	b.WriteString("typedef enum {")
	for i, c := range enums[name] {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n\t%s = %d", c, i)
	}
	if len(enums[name]) == 0 {
		b.WriteString("\n\t" + base + "_placeholder_ = 0")
	}
	b.WriteString("\n} " + name + ";")
	return b.String()
}

// cudnnDecls infers cudnn.h from the Go code of gorgonia.org/cu/dnn in dir.
func cudnnDecls(dir string) ([]byte, error) {
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Defs: map[*ast.Ident]types.Object{},
		Selections: map[*ast.SelectorExpr]*types.Selection{}}
	conf := types.Config{FakeImportC: true, Importer: importer.ForCompiler(fset, "source", nil), Error: func(error) {}}
	conf.Check("cudnn", fset, files, info) // errors expected: C's types are unknown to go/types

	// Where each object is declared: the type expression or the value it was given.
	declType := map[token.Pos]ast.Expr{}
	declValue := map[token.Pos]ast.Expr{}
	declIndex := map[token.Pos]int{} // which result of a multi-valued call
	funcResult := map[token.Pos][]ast.Expr{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Field:
				for _, id := range n.Names {
					declType[id.Pos()] = n.Type
				}
			case *ast.ValueSpec:
				for i, id := range n.Names {
					if n.Type != nil {
						declType[id.Pos()] = n.Type
					} else if i < len(n.Values) {
						declValue[id.Pos()] = n.Values[i]
					}
				}
			case *ast.AssignStmt:
				if n.Tok == token.DEFINE && len(n.Lhs) == len(n.Rhs) {
					for i, l := range n.Lhs {
						if id, ok := l.(*ast.Ident); ok {
							declValue[id.Pos()] = n.Rhs[i]
						}
					}
				} else if n.Tok == token.DEFINE && len(n.Rhs) == 1 {
					for i, l := range n.Lhs {
						if id, ok := l.(*ast.Ident); ok {
							declValue[id.Pos()] = n.Rhs[0]
							declIndex[id.Pos()] = i
						}
					}
				}
			case *ast.FuncDecl:
				if n.Type.Results != nil {
					for _, r := range n.Type.Results.List {
						for range max(1, len(r.Names)) {
							funcResult[n.Name.Pos()] = append(funcResult[n.Name.Pos()], r.Type)
						}
					}
				}
			}
			return true
		})
	}
	isC := func(e ast.Expr) (string, bool) {
		if s, ok := e.(*ast.SelectorExpr); ok {
			if x, ok := s.X.(*ast.Ident); ok && x.Name == "C" {
				return s.Sel.Name, true
			}
		}
		return "", false
	}
	var typeOfTypeExpr func(e ast.Expr) string
	typeOfTypeExpr = func(e ast.Expr) string {
		if n, ok := isC(e); ok {
			return cName(n)
		}
		switch e := e.(type) {
		case *ast.StarExpr:
			if t := typeOfTypeExpr(e.X); t != "" {
				return t + " *"
			}
		case *ast.SelectorExpr:
			if x, ok := e.X.(*ast.Ident); ok && x.Name == "unsafe" && e.Sel.Name == "Pointer" {
				return "void *"
			}
		case *ast.ParenExpr:
			return typeOfTypeExpr(e.X)
		}
		return ""
	}
	var typeOf func(e ast.Expr, depth int) string
	resultOf := func(fun ast.Expr, i int) string {
		var obj types.Object
		switch f := fun.(type) {
		case *ast.Ident:
			obj = info.Uses[f]
		case *ast.SelectorExpr:
			if sel := info.Selections[f]; sel != nil {
				obj = sel.Obj()
			}
		}
		if obj == nil || i >= len(funcResult[obj.Pos()]) {
			return ""
		}
		return typeOfTypeExpr(funcResult[obj.Pos()][i])
	}
	objType := func(obj types.Object, depth int) string {
		if obj == nil {
			return ""
		}
		if t, ok := declType[obj.Pos()]; ok {
			return typeOfTypeExpr(t)
		}
		if v, ok := declValue[obj.Pos()]; ok {
			if i, multi := declIndex[obj.Pos()]; multi {
				if c, ok := v.(*ast.CallExpr); ok {
					return resultOf(c.Fun, i)
				}
				return ""
			}
			return typeOf(v, depth+1)
		}
		return ""
	}
	typeOf = func(e ast.Expr, depth int) string {
		if depth > 8 {
			return ""
		}
		switch e := e.(type) {
		case *ast.ParenExpr:
			return typeOf(e.X, depth)
		case *ast.CallExpr:
			if n, ok := isC(e.Fun); ok {
				if strings.HasPrefix(n, "make") {
					return "cudnnAlgorithm_t"
				}
				return cName(n) // a conversion C.T(x)
			}
			if t := typeOfTypeExpr(e.Fun); t != "" {
				return t // (*C.T)(p), unsafe.Pointer(p)
			}
			return resultOf(e.Fun, 0)
		case *ast.UnaryExpr:
			if e.Op == token.AND {
				if t := typeOf(e.X, depth+1); t != "" {
					return t + " *"
				}
			}
		case *ast.Ident:
			return objType(info.Uses[e], depth)
		case *ast.SelectorExpr:
			if sel := info.Selections[e]; sel != nil {
				return objType(sel.Obj(), depth)
			}
		case *ast.IndexExpr:
			if t := typeOf(e.X, depth+1); strings.HasSuffix(t, " *") {
				return strings.TrimSuffix(t, " *")
			}
			if id, ok := e.X.(*ast.Ident); ok {
				if obj := info.Uses[id]; obj != nil {
					switch at := declType[obj.Pos()].(type) {
					case *ast.ArrayType:
						return typeOfTypeExpr(at.Elt)
					}
				}
			}
		}
		return ""
	}

	// Functions: the parameter types seen at the call sites, each resolved at one site at least.
	params := map[string][]string{}
	used := map[string]bool{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if s, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := s.X.(*ast.Ident); ok && x.Name == "C" {
					used[s.Sel.Name] = true
				}
			}
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			name, ok := isC(call.Fun)
			if !ok || !strings.HasPrefix(name, "cudnn") || strings.HasSuffix(name, "_t") {
				return true
			}
			ps := params[name]
			if ps == nil {
				ps = make([]string, len(call.Args))
			}
			for i, a := range call.Args {
				if i < len(ps) && ps[i] == "" {
					ps[i] = typeOf(a, 0)
				}
			}
			params[name] = ps
			return true
		})
	}

	// Enums: the Go constants C.CUDNN_X of a Go type T, whose C() method names the C type.
	goToC := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Name.Name != "C" || fd.Recv == nil || fd.Type.Results == nil {
				continue
			}
			recv, ok := fd.Recv.List[0].Type.(*ast.Ident)
			if !ok {
				continue
			}
			if c := typeOfTypeExpr(fd.Type.Results.List[0].Type); c != "" {
				goToC[recv.Name] = c
			}
		}
	}
	enums := map[string][]string{}
	placed := map[string]bool{}
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				tid, ok := vs.Type.(*ast.Ident)
				if !ok || len(vs.Values) != 1 {
					continue
				}
				c, ok := isC(vs.Values[0])
				ct := goToC[tid.Name]
				if !ok || ct == "" || placed[c] {
					continue
				}
				placed[c] = true
				enums[ct] = append(enums[ct], c)
			}
		}
	}
	// Status codes are returned, not only named: success must be 0, as cuDNN's is.
	st := enums["cudnnStatus_t"]
	for i, c := range st {
		if c == "CUDNN_STATUS_SUCCESS" {
			st[0], st[i] = st[i], st[0]
		}
	}
	if len(st) == 0 || st[0] != "CUDNN_STATUS_SUCCESS" {
		enums["cudnnStatus_t"] = append([]string{"CUDNN_STATUS_SUCCESS"}, st...)
		placed["CUDNN_STATUS_SUCCESS"] = true
	}
	var loose []string
	for c := range used {
		if strings.HasPrefix(c, "CUDNN_") && !placed[c] {
			loose = append(loose, c)
		}
	}
	sort.Strings(loose)

	// Types: every C.cudnn*_t named, and those the parameters and structs use.
	typeNames := map[string]bool{"cudnnStatus_t": true, "cudnnDeterminism_t": true, "cudnnMathType_t": true,
		"cudnnConvolutionFwdAlgo_t": true, "cudnnConvolutionBwdFilterAlgo_t": true, "cudnnConvolutionBwdDataAlgo_t": true,
		"cudnnRNNAlgo_t": true, "cudnnCTCLossAlgo_t": true, "cudnnConvolutionDescriptor_t": true, "cudnnConvolutionMode_t": true,
		"cudnnDataType_t": true}
	for n := range used {
		if strings.HasPrefix(n, "cudnn") && strings.HasSuffix(n, "_t") {
			typeNames[n] = true
		}
	}
	for _, ps := range params {
		for _, p := range ps {
			if t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(p, " *"), " *")); strings.HasPrefix(t, "cudnn") {
				typeNames[t] = true
			}
		}
	}
	for ct := range enums {
		typeNames[ct] = true
	}
	// Enums and handles first, then the structs that hold them.
	var plain, composite []string
	for n := range typeNames {
		if n == "cudnnAlgorithm_t" || strings.HasSuffix(n, "AlgoPerf_t") {
			composite = append(composite, n)
		} else {
			plain = append(plain, n)
		}
	}
	sort.Strings(plain)
	sort.Strings(composite)

	var b bytes.Buffer
	b.WriteString("/* Code generated by tools/cuda/gendecls from gorgonia.org/cu/dnn's Go code. DO NOT EDIT.\n")
	b.WriteString(" * A build-time stand-in for cuDNN 8's cudnn.h: the types, constants and functions gorgonia.org/cu/dnn\n")
	b.WriteString(" * names, with parameter types as its call sites pass them. Enum values are placeholders (distinct per\n")
	b.WriteString(" * type; CUDNN_STATUS_SUCCESS is 0, as in cuDNN), so a binary built with this header must call no cuDNN\n")
	b.WriteString(" * function but cudnnCreate and cudnnDestroy, which is all gorgonia's CUDA engine and this project do. */\n")
	b.WriteString("#ifndef LUMINA_DECLS_CUDNN_H\n#define LUMINA_DECLS_CUDNN_H\n#include <stddef.h>\n#include <stdint.h>\n\n")
	for _, n := range append(plain, composite...) {
		b.WriteString(cudnnTypeDecl(n, enums))
		b.WriteString("\n\n")
	}
	if len(loose) > 0 {
		b.WriteString("enum {")
		for i, c := range loose {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "\n\t%s = %d", c, i)
		}
		b.WriteString("\n};\n\n")
	}
	var fnames []string
	for n := range params {
		fnames = append(fnames, n)
	}
	for n := range cudnnExtra {
		if _, ok := params[n]; !ok {
			fnames = append(fnames, n)
		}
	}
	sort.Strings(fnames)
	var unresolved []string
	for _, n := range fnames {
		if x, ok := cudnnExtra[n]; ok {
			b.WriteString(x + "\n")
			continue
		}
		ret := "cudnnStatus_t"
		if r, ok := cudnnReturns[n]; ok {
			ret = r
		}
		ps := params[n]
		args := make([]string, len(ps))
		for i, p := range ps {
			if p == "" {
				unresolved = append(unresolved, fmt.Sprintf("%s arg %d", n, i))
				p = "void *"
			}
			args[i] = p
		}
		if len(args) == 0 {
			args = []string{"void"}
		}
		fmt.Fprintf(&b, "%s %s(%s);\n", ret, n, strings.Join(args, ", "))
	}
	b.WriteString("\n#endif\n")
	if len(unresolved) > 0 {
		fmt.Fprintf(os.Stderr, "gendecls: parameter types not inferred (declared void *): %s\n", strings.Join(unresolved, "; "))
	}
	return b.Bytes(), nil
}

// cName maps cgo's spelling of a C type to C's.
func cName(n string) string {
	switch n {
	case "uint":
		return "unsigned int"
	case "ulonglong":
		return "unsigned long long"
	case "longlong":
		return "long long"
	case "ulong":
		return "unsigned long"
	case "schar":
		return "signed char"
	case "uchar":
		return "unsigned char"
	}
	return n
}
