// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package bpfcmpdel

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Mode is what a compare excludes; see uapi/bpfcmpdel/ioctl.h.
type Mode uint8

const (
	// ModeDefault compares under the bucket lock: atomic against every
	// bucket-lock holder, not against in-place writers.
	ModeDefault Mode = iota
	// ModeLock also holds the value's bpf_spin_lock around the compare:
	// it never sees a half-written value.
	ModeLock
	// ModeTombstone swaps the (aligned 4- or 8-byte) region to
	// Options.Tombstone with one cmpxchg, and deletes only if that
	// succeeded: a datapath refreshing by cmpxchg never loses a refresh.
	ModeTombstone
)

// Options are the modes of Delete, DeleteSnapshot, DeleteBatch and Update.
// A nil *Options is ModeDefault.
type Options struct {
	Mode Mode
	// Tombstone is the value ModeTombstone swaps in.
	Tombstone uint64
	// OneCPU compares CPU CPU's slot of a per-CPU map alone.
	OneCPU bool
	CPU    uint32
}

func (o *Options) flags() (flags uint64, cpu uint32, tombstone uint64) {
	if o == nil {
		return 0, 0, 0
	}
	switch o.Mode {
	case ModeLock:
		flags |= flagLock
	case ModeTombstone:
		flags |= flagTombstone
		tombstone = o.Tombstone
	}
	if o.OneCPU {
		flags |= flagCPU
		cpu = o.CPU
	}
	return flags, cpu, tombstone
}

var possibleCPUs = struct {
	once sync.Once
	n    int
	err  error
}{}

// The CPUs a per-CPU lookup returns a slot for.
func nPossibleCPUs() (int, error) {
	possibleCPUs.once.Do(func() {
		b, err := os.ReadFile("/sys/devices/system/cpu/possible")
		if err != nil {
			possibleCPUs.err = err
			return
		}
		possibleCPUs.n, possibleCPUs.err = parseCPURange(strings.TrimSpace(string(b)))
	})
	return possibleCPUs.n, possibleCPUs.err
}

// "0-3" or "0": the count, as the kernel numbers possible CPUs from 0.
func parseCPURange(s string) (int, error) {
	last := s
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		last = s[i+1:]
	}
	n, err := strconv.Atoi(last)
	if err != nil {
		return 0, fmt.Errorf("possible CPUs %q: %w", s, err)
	}
	return n + 1, nil
}

func isPerCPU(m *ebpf.Map) bool {
	return m.Type() == ebpf.PerCPUHash || m.Type() == ebpf.LRUCPUHash
}

// snapshotSize is the bytes of one lookup of @m: per-CPU maps give a
// round_up(value_size, 8) slot per possible CPU, unless one CPU's alone.
func snapshotSize(m *ebpf.Map, oneCPU bool) (int, error) {
	if !isPerCPU(m) || oneCPU {
		return int(m.ValueSize()), nil
	}
	n, err := nPossibleCPUs()
	if err != nil {
		return 0, err
	}
	return int((m.ValueSize()+7)&^7) * n, nil
}

func single(op string, cmd uintptr, m *ebpf.Map, r *req, keep ...interface{}) error {
	r.Size = uint32(unsafe.Sizeof(*r))
	r.MapFD = uint32(m.FD())
	return ioctl(op, cmd, unsafe.Pointer(r), keep...)
}

// keyAndExpected are a request's key (KeySize bytes) and region bytes.
func keyAndExpected(m *ebpf.Map, key, expected interface{}) (k, e []byte, err error) {
	if k, err = marshal("key", key, int(m.KeySize())); err != nil {
		return nil, nil, err
	}
	e, err = marshal("expected", expected, 0)
	return k, e, err
}

// Delete deletes the element under key only if the bytes at offset of its
// value still equal expected (its length is the region's).  Per-CPU maps
// need DeleteSnapshot, or Options.OneCPU.
func Delete(m *ebpf.Map, key, expected interface{}, offset uint32, opts *Options) error {
	k, e, err := keyAndExpected(m, key, expected)
	if err != nil {
		return err
	}
	r := req{Key: ptr(k), Expected: ptr(e), CompareOffset: offset, CompareSize: uint32(len(e))}
	r.Flags, r.CPU, r.Tombstone = opts.flags()
	return single("delete", iocDelete, m, &r, k, e)
}

// DeleteSnapshot is Delete with the expected bytes cut from snapshot, a
// value exactly as ebpf.Map.Lookup returned it: a GC passes its lookup as
// is.  On per-CPU maps the region must be unchanged on every CPU.
func DeleteSnapshot(m *ebpf.Map, key, snapshot interface{}, offset, size uint32,
	opts *Options) error {
	k, err := marshal("key", key, int(m.KeySize()))
	if err != nil {
		return err
	}
	n, err := snapshotSize(m, opts != nil && opts.OneCPU)
	if err != nil {
		return err
	}
	s, err := marshal("snapshot", snapshot, n)
	if err != nil {
		return err
	}
	r := req{Key: ptr(k), Expected: ptr(s), CompareOffset: offset, CompareSize: size}
	r.Flags, r.CPU, r.Tombstone = opts.flags()
	r.Flags |= flagSnapshot
	return single("delete", iocDelete, m, &r, k, s)
}

// Update is compare-and-swap: it writes value over the region at offset
// only if it still equals expected (the same length): one cmpxchg for an
// aligned 4- or 8-byte region, any region with ModeLock.  Per-CPU maps:
// Options.OneCPU's slot.
func Update(m *ebpf.Map, key, expected, value interface{}, offset uint32, opts *Options) error {
	k, e, err := keyAndExpected(m, key, expected)
	if err != nil {
		return err
	}
	v, err := marshal("value", value, len(e))
	if err != nil {
		return err
	}
	r := req{Key: ptr(k), Expected: ptr(e), Value: ptr(v), CompareOffset: offset,
		CompareSize: uint32(len(e))}
	r.Flags, r.CPU, r.Tombstone = opts.flags()
	return single("update", iocUpdate, m, &r, k, e, v)
}

// BatchOptions are DeleteBatch's region and modes.
type BatchOptions struct {
	Options
	// Offset and Size are the region compared.
	Offset, Size uint32
	// Snapshot: expected holds one lookup snapshot per key (as
	// DeleteSnapshot), not Size bytes per key.
	Snapshot bool
}

// DeleteBatch does len(keys)/KeySize independent compare-and-deletes in
// one call.  keys holds the keys back to back (a []byte, or a slice of a
// fixed-size key type); expected holds Size bytes per key, or with
// Snapshot one lookup snapshot per key.  The result of element i is
// results[i]: nil if deleted, else an error as Delete returns.  On a
// failure part-way, results holds the elements processed: each of them is
// done and reported.
func DeleteBatch(m *ebpf.Map, keys, expected interface{}, opts BatchOptions) (
	results []error, err error) {
	k, err := marshal("keys", keys, 0)
	if err != nil {
		return nil, err
	}
	if len(k)%int(m.KeySize()) != 0 {
		return nil, fmt.Errorf("keys: %d bytes is no whole number of %d-byte keys",
			len(k), m.KeySize())
	}
	n := len(k) / int(m.KeySize())
	per := int(opts.Size)
	if opts.Snapshot {
		if per, err = snapshotSize(m, opts.OneCPU); err != nil {
			return nil, err
		}
	}
	e, err := marshal("expected", expected, n*per)
	if err != nil {
		return nil, err
	}
	res := make([]int32, n)
	r := batchReq{Keys: ptr(k), Expected: ptr(e), Count: uint32(n),
		CompareOffset: opts.Offset, CompareSize: opts.Size}
	if n > 0 {
		r.Results = uint64(uintptr(unsafe.Pointer(&res[0])))
	}
	r.Flags, r.CPU, r.Tombstone = opts.flags()
	if opts.Snapshot {
		r.Flags |= flagSnapshot
	}
	r.Size = uint32(unsafe.Sizeof(r))
	r.MapFD = uint32(m.FD())
	err = ioctl("delete batch", iocDeleteBatch, unsafe.Pointer(&r), k, e, res)
	done := int(r.Count)
	if err != nil && !isErrno(err, unix.EFAULT) {
		done = 0
	}
	results = make([]error, done)
	for i := range results {
		results[i] = errOf("delete", unix.Errno(-res[i]))
	}
	return results, err
}

func isErrno(err error, errno unix.Errno) bool {
	e, ok := err.(*Error)
	return ok && e.Errno == errno
}
