// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package bpfcmpdel

import (
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The uapi header the structs mirror: BPFCMPDEL_UAPI, set by make check on
// the host.  Inside the test VM there is no source tree and the test says
// so; on the host a missing header fails.
func uapiHeader(t *testing.T) string {
	return header(t, "BPFCMPDEL_UAPI")
}

// header is the C header the environment variable @env names.
func header(t *testing.T, env string) string {
	path := os.Getenv(env)
	if path == "" {
		t.Skip(env + " not set: no header to check against (the VM)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	cStructRe = regexp.MustCompile(`(?s)struct (bpfcmpdel_\w+) \{(.*?)\n\};`)
	cFieldRe  = regexp.MustCompile(`__u(32|64) (\w+);`)
	cDefineRe = regexp.MustCompile(`(?m)^#define (BPFCMPDEL_\w+)\s+(.+?)\s*(?:/\*.*)?$`)
)

type cField struct {
	name         string
	offset, size uintptr
}

// The C layout of each struct: fixed-width fields, naturally aligned.
func cStructs(header string) map[string][]cField {
	structs := map[string][]cField{}
	for _, m := range cStructRe.FindAllStringSubmatch(header, -1) {
		var fields []cField
		var off uintptr
		for _, f := range cFieldRe.FindAllStringSubmatch(m[2], -1) {
			size := uintptr(4)
			if f[1] == "64" {
				size = 8
			}
			off = (off + size - 1) &^ (size - 1)
			fields = append(fields, cField{f[2], off, size})
			off += size
		}
		structs[m[1]] = fields
	}
	return structs
}

func TestABIMatchesHeader(t *testing.T) {
	structs := cStructs(uapiHeader(t))
	for cname, goType := range map[string]reflect.Type{
		"bpfcmpdel_req":        reflect.TypeOf(req{}),
		"bpfcmpdel_batch_req":  reflect.TypeOf(batchReq{}),
		"bpfcmpdel_sweep_req":  reflect.TypeOf(sweepReq{}),
		"bpfcmpdel_handle_req": reflect.TypeOf(handleReq{}),
	} {
		c := structs[cname]
		if len(c) == 0 {
			t.Fatalf("struct %s not in the header", cname)
		}
		if goType.NumField() != len(c) {
			t.Errorf("%s: %d fields in Go, %d in C", cname, goType.NumField(), len(c))
			continue
		}
		last := c[len(c)-1]
		if goType.Size() != last.offset+last.size {
			t.Errorf("%s: %d bytes in Go, %d in C", cname, goType.Size(),
				last.offset+last.size)
		}
		for i, cf := range c {
			gf := goType.Field(i)
			if gf.Tag.Get("uapi") != cf.name || gf.Offset != cf.offset ||
				gf.Type.Size() != cf.size {
				t.Errorf("%s.%s at %d (%d bytes): Go has %s (uapi %q) at %d (%d bytes)",
					cname, cf.name, cf.offset, cf.size, gf.Name, gf.Tag.Get("uapi"),
					gf.Offset, gf.Type.Size())
			}
		}
	}
}

// The header's values, the _BITULL()/_BITUL() flags and plain numbers.
func cDefines(header string) map[string]string {
	defs := map[string]string{}
	for _, m := range cDefineRe.FindAllStringSubmatch(header, -1) {
		defs[m[1]] = m[2]
	}
	return defs
}

func cValue(t *testing.T, defs map[string]string, name string) uint64 {
	v, ok := defs[name]
	if !ok {
		t.Fatalf("%s not in the header", name)
	}
	if m := regexp.MustCompile(`^_BITULL?\((\d+)\)$`).FindStringSubmatch(v); m != nil {
		n, _ := strconv.Atoi(m[1])
		return 1 << n
	}
	if v == "(~0ULL)" {
		return ^uint64(0)
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(v, "U"), 0, 64)
	if err != nil {
		t.Fatalf("%s: %q: %v", name, v, err)
	}
	return n
}

func TestConstantsMatchHeader(t *testing.T) {
	header := uapiHeader(t)
	defs := cDefines(header)
	for name, got := range map[string]uint64{
		"BPFCMPDEL_F_SNAPSHOT":       flagSnapshot,
		"BPFCMPDEL_F_LOCK":           flagLock,
		"BPFCMPDEL_F_TOMBSTONE":      flagTombstone,
		"BPFCMPDEL_F_CPU":            flagCPU,
		"BPFCMPDEL_F_SWEEP_VALUES":   flagSweepValues,
		"BPFCMPDEL_F_SWEEP_ELEMS":    flagSweepElems,
		"BPFCMPDEL_SWEEP_END":        SweepEnd,
		"BPFCMPDEL_SWEEP_BUDGET":     SweepBudget,
		"BPFCMPDEL_SWEEP_BUDGET_MAX": SweepBudgetMax,
		"BPFCMPDEL_BATCH_MAX":        BatchMax,
		"BPFCMPDEL_IOC_MAGIC":        iocMagic,
		"BPFCMPDEL_HANDLES_MAX":      HandlesMax,
	} {
		if want := cValue(t, defs, name); got != want {
			t.Errorf("%s: Go has %#x, the header %#x", name, got, want)
		}
	}
	if defs["BPFCMPDEL_DEVICE"] != strconv.Quote(devicePath) {
		t.Errorf("BPFCMPDEL_DEVICE: Go has %q, the header %s", devicePath,
			defs["BPFCMPDEL_DEVICE"])
	}
	// _IOW(magic, nr, struct) and _IOWR: the direction, number and struct.
	structs := cStructs(header)
	size := func(name string) uintptr {
		f := structs[name]
		return f[len(f)-1].offset + f[len(f)-1].size
	}
	iocRe := regexp.MustCompile(`^(_IOW|_IOWR)\(BPFCMPDEL_IOC_MAGIC, (\d+), struct (\w+)\)$`)
	for name, got := range map[string]uintptr{
		"BPFCMPDEL_IOC_DELETE":       iocDelete,
		"BPFCMPDEL_IOC_DELETE_BATCH": iocDeleteBatch,
		"BPFCMPDEL_IOC_SWEEP":        iocSweep,
		"BPFCMPDEL_IOC_UPDATE":       iocUpdate,
		"BPFCMPDEL_IOC_HANDLE_NEW":   iocHandleNew,
		"BPFCMPDEL_IOC_HANDLE_FREE":  iocHandleFree,
	} {
		m := iocRe.FindStringSubmatch(defs[name])
		if m == nil {
			t.Errorf("%s: %q is not _IOW/_IOWR(BPFCMPDEL_IOC_MAGIC, nr, struct)", name,
				defs[name])
			continue
		}
		dir := uintptr(iocWrite)
		if m[1] == "_IOWR" {
			dir |= iocRead
		}
		nr, _ := strconv.Atoi(m[2])
		if want := ioc(dir, uintptr(nr), size(m[3])); got != want {
			t.Errorf("%s: Go has %#x, the header %#x", name, got, want)
		}
	}
}

// The C library's limits that the Go package shares (the GC's threads).
func TestConstantsMatchLibraryHeader(t *testing.T) {
	defs := cDefines(header(t, "BPFCMPDEL_LIB_HEADER"))
	if want := cValue(t, defs, "BPFCMPDEL_GC_THREADS_MAX"); uint64(GCThreadsMax) != want {
		t.Errorf("BPFCMPDEL_GC_THREADS_MAX: Go has %d, the header %d", GCThreadsMax, want)
	}
}
