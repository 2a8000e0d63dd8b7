// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package bpfcmpdel

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// SweepOptions are what a sweep deletes: every element whose unsigned
// native-endian FieldSize-byte (4 or 8) field at FieldOffset (naturally
// aligned) is below Threshold.
type SweepOptions struct {
	FieldOffset, FieldSize uint32
	Threshold              uint64
	// Tombstone: swap the field to TombstoneValue with one cmpxchg, and
	// delete only if that succeeded (the tombstone protocol).
	Tombstone      bool
	TombstoneValue uint64
	// Values: hand each deleted element's value back too.
	Values bool
	// Elements: walk a preallocated map's element array in memory order
	// rather than its buckets (BPFCMPDEL_F_SWEEP_ELEMS); the cursor and
	// Budget then count elements.  Hash maps without BPF_F_NO_PREALLOC
	// and LRU hash maps only.  GC picks it by itself.
	Elements bool
	// MaxOut is the most elements one call deletes (default 4096).
	MaxOut uint32
	// Budget is the most buckets (or elements) one call visits (0:
	// SweepBudget).
	Budget uint32
}

const defaultMaxOut = 4096

// SweepResult is what one Sweep call did.
type SweepResult struct {
	// Keys and Values of the Deleted elements, back to back.
	Keys, Values []byte
	Deleted      int
	// Scanned is the elements the call looked at.
	Scanned int
	// Cursor is where the next call goes on; SweepEnd when done.
	Cursor uint64
}

// Sweep is one call of the in-kernel expiry sweep from bucket cursor (0
// to start), deciding and deleting under each bucket's lock: no snapshot
// can go stale.  A call that deleted anything returns a nil error: read
// the result whatever the error all the same (see BPFCMPDEL_IOC_SWEEP for
// the one exception).
func Sweep(m *ebpf.Map, cursor uint64, opts SweepOptions) (SweepResult, error) {
	var buf sweepBuffers
	return buf.sweep(m, cursor, opts)
}

// sweepBuffers are where the kernel writes a sweep's deleted keys and
// values: a GC pass and a Sweeper use the same for every call, as the C
// library does, rather than a fresh pair a call.
type sweepBuffers struct {
	keys, values []byte
}

// grow makes b hold n bytes, reusing its memory when it is large enough.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

func (buf *sweepBuffers) sweep(m *ebpf.Map, cursor uint64, opts SweepOptions) (SweepResult, error) {
	maxOut := opts.MaxOut
	if maxOut == 0 {
		maxOut = defaultMaxOut
	}
	res := SweepResult{Cursor: cursor}
	buf.keys = grow(buf.keys, int(maxOut)*int(m.KeySize()))
	keys := buf.keys
	var values []byte
	r := sweepReq{Cursor: cursor, Threshold: opts.Threshold, FieldOffset: opts.FieldOffset,
		FieldSize: opts.FieldSize, MaxOut: maxOut, Budget: opts.Budget, Keys: ptr(keys)}
	if opts.Tombstone {
		r.Flags |= flagTombstone
		r.Tombstone = opts.TombstoneValue
	}
	if opts.Elements {
		r.Flags |= flagSweepElems
	}
	if opts.Values {
		buf.values = grow(buf.values, int(maxOut)*int(m.ValueSize()))
		values = buf.values
		r.Flags |= flagSweepValues
		r.Values = ptr(values)
	}
	r.Size = uint32(unsafe.Sizeof(r))
	r.MapFD = uint32(m.FD())
	err := ioctl("sweep", iocSweep, unsafe.Pointer(&r), keys, values)
	res.Deleted = int(r.NrDeleted)
	res.Scanned = int(r.NrScanned)
	if err == nil || res.Deleted > 0 {
		res.Cursor = r.Cursor
	}
	res.Keys = keys[:res.Deleted*int(m.KeySize())]
	if values != nil {
		res.Values = values[:res.Deleted*int(m.ValueSize())]
	}
	return res, err
}

// Sweeper walks a whole map with Sweep, one deleted element at a time, in
// the manner of ebpf.MapIterator:
//
//	s := bpfcmpdel.NewSweeper(m, opts)
//	for s.Next() {
//		forget(s.Key())
//	}
//	if err := s.Err(); err != nil { ... }
//
// A bucket lock not taken (ErrRetry) is tried again, up to 100 calls in
// a row; every element a call deleted is still handed out.
type Sweeper struct {
	m       *ebpf.Map
	opts    SweepOptions
	cursor  uint64
	res     SweepResult
	i       int
	retries int
	err     error
	scanned int
	buf     sweepBuffers
}

// NewSweeper starts a sweep of m from its first bucket.
func NewSweeper(m *ebpf.Map, opts SweepOptions) *Sweeper {
	return &Sweeper{m: m, opts: opts, i: -1}
}

const maxRetries = 100

// Next moves to the next deleted element; false when the map is done or
// a call failed (see Err).
func (s *Sweeper) Next() bool {
	for {
		if s.i+1 < s.res.Deleted {
			s.i++
			return true
		}
		if s.err != nil || s.cursor == SweepEnd {
			return false
		}
		s.call()
	}
}

func (s *Sweeper) call() {
	res, err := s.buf.sweep(s.m, s.cursor, s.opts)
	s.res, s.i = res, -1
	s.scanned += res.Scanned
	s.cursor = res.Cursor
	switch {
	case err == nil:
		s.retries = 0
	case errors.Is(err, ErrRetry) && s.retries < maxRetries:
		s.retries++
		runtime.Gosched()
	default:
		s.err = err
	}
}

// Key is the current element's key, valid until the next call of Next.
func (s *Sweeper) Key() []byte {
	ks := int(s.m.KeySize())
	return s.res.Keys[s.i*ks : (s.i+1)*ks]
}

// Value is the current element's value as it was deleted (with
// SweepOptions.Values; nil otherwise), valid until the next call of Next.
func (s *Sweeper) Value() []byte {
	if s.res.Values == nil {
		return nil
	}
	vs := int(s.m.ValueSize())
	return s.res.Values[s.i*vs : (s.i+1)*vs]
}

// Err is the error that ended the walk, or nil.
func (s *Sweeper) Err() error { return s.err }

// Scanned is the elements the sweep looked at so far.
func (s *Sweeper) Scanned() int { return s.scanned }

// GCOptions are a GC pass's: the sweep's, and a callback for the keys.
type GCOptions struct {
	SweepOptions
	// Threads is how many goroutines sweep disjoint ranges of elements
	// (or buckets) (0 or 1: one, the caller's; at most GCThreadsMax),
	// what the C library's bpfcmpdel_gc_opts.threads is.  An element
	// never changes its slot or bucket, so each is judged by one of them.
	// OnDeleted is called one call at a time all the same.  They help
	// where the map frees to per-CPU lists (a hash map, or an LRU map
	// made with BPF_F_NO_COMMON_LRU); a common-LRU map frees every
	// element under its one LRU list lock, so there a second gains
	// nothing and may lose.
	Threads int
	// OnDeleted gets each call's deleted keys (KeySize bytes each, back
	// to back) and values (with Values), for dependent state: NAT
	// entries, metrics.  Every deleted key reaches it, also those of a
	// call that failed after deleting.  The slices are valid until it
	// returns (the next call reuses them): copy what must outlive it.
	OnDeleted func(keys, values []byte)
}

// GCStats is what a GC pass did.
type GCStats struct {
	Scanned, Deleted int
}

// GCThreadsMax is the most GCOptions.Threads may be.
const GCThreadsMax = 64

// GC is a whole GC pass with the in-kernel sweep, what the C library's
// bpfcmpdel_gc_sweep() does: every element whose field is below the
// threshold goes, decided under its bucket's lock.  A preallocated map is
// walked in the memory order of its element array (SweepOptions.Elements
// is set for it), any other by its buckets.  With several Threads the
// pass fails with the first error one met, after all finished their
// ranges; the stats count all of them.
func GC(m *ebpf.Map, opts GCOptions) (GCStats, error) {
	n := opts.Threads
	if n == 0 {
		n = 1
	}
	if n < 0 || n > GCThreadsMax {
		return GCStats{}, &Error{Op: fmt.Sprintf("gc: %d threads (at most %d)",
			opts.Threads, GCThreadsMax), Errno: unix.EINVAL}
	}
	opts.Elements = opts.Elements || walksElements(m)
	var lock sync.Mutex
	ranges := make([]gcRange, n)
	var wg sync.WaitGroup
	for i := range ranges {
		r := &ranges[i]
		r.lo = gcRangeStart(m.MaxEntries(), opts.Elements, i, n)
		r.hi = SweepEnd
		if i+1 < n {
			r.hi = gcRangeStart(m.MaxEntries(), opts.Elements, i+1, n)
		}
		if i == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.sweep(m, &opts, &lock)
		}()
	}
	ranges[0].sweep(m, &opts, &lock)
	wg.Wait()
	var st GCStats
	var err error
	for i := range ranges {
		st.Scanned += ranges[i].st.Scanned
		st.Deleted += ranges[i].st.Deleted
		if err == nil && ranges[i].err != nil {
			err = fmt.Errorf("gc: %w", ranges[i].err)
		}
	}
	return st, err
}

// gcRange is one goroutine's share of a GC pass: elements or buckets
// [lo, hi).
type gcRange struct {
	lo, hi uint64
	st     GCStats
	err    error
}

// walksElements is whether GC walks m's element array rather than its
// buckets: the bucket order reads each element of a large map at a
// random address.  Only a preallocated map keeps its elements in one
// array; per-CPU maps are not swept at all, so their refusal stays the
// kernel's.
func walksElements(m *ebpf.Map) bool {
	switch m.Type() {
	case ebpf.Hash:
		return m.Flags()&unix.BPF_F_NO_PREALLOC == 0
	case ebpf.LRUHash:
		return true
	}
	return false
}

// gcRangeStart is where range i of n starts: the elements split evenly,
// or the buckets, counted as hashtab.c counts them (max_entries rounded
// up to a power of two).  The count only balances the split: the last
// range runs to the end (a hash map's extra elements, one per CPU).
func gcRangeStart(maxEntries uint32, elements bool, i, n int) uint64 {
	units := uint64(1)
	if elements {
		units = uint64(maxEntries)
	}
	for units < uint64(maxEntries) {
		units <<= 1
	}
	return units * uint64(i) / uint64(n)
}

func (r *gcRange) sweep(m *ebpf.Map, opts *GCOptions, lock *sync.Mutex) {
	var buf sweepBuffers
	so := opts.SweepOptions
	budget := uint64(so.Budget)
	if budget == 0 {
		budget = SweepBudget
	}
	cursor, retries := r.lo, 0

	for cursor < r.hi {
		// No call crosses into the next range.
		so.Budget = uint32(min64(budget, r.hi-cursor))
		res, err := buf.sweep(m, cursor, so)
		r.st.Scanned += res.Scanned
		r.st.Deleted += res.Deleted
		if res.Deleted > 0 && opts.OnDeleted != nil {
			lock.Lock()
			opts.OnDeleted(res.Keys, res.Values)
			lock.Unlock()
		}
		cursor = res.Cursor
		switch {
		case err == nil:
			retries = 0
		case errors.Is(err, ErrRetry) && retries < maxRetries:
			retries++
			runtime.Gosched()
		default:
			r.err = err
			return
		}
	}
}

func min64(a, b uint64) uint64 {
	if a < b {
		return a
	}
	return b
}
