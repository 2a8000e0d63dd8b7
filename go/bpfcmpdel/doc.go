// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// Package bpfcmpdel is the Go front end of the bpfcmpdel kernel module:
// compare-and-delete, compare-and-swap and the in-kernel expiry sweep for
// BPF hash maps, so that a garbage collector never deletes an entry the
// datapath refreshed after the collector looked at it.
//
// Maps are [github.com/cilium/ebpf] maps; keys, values and expected bytes
// are anything [ebpf.Map.Lookup] accepts: a []byte, an
// [encoding.BinaryMarshaler], or a fixed-size value encoded in native byte
// order.  Results are errors usable with [errors.Is]: [ErrChanged] (the
// region no longer holds the expected bytes: nothing was done),
// [ErrNotExist] (also [ebpf.ErrKeyNotExist]), [ErrRetry], [ErrNotSupported],
// [ErrModuleMissing]; the kernel's errno stays underneath ([unix.Errno]).
// What each mode guarantees, and against whom, is spelled out in
// uapi/bpfcmpdel/ioctl.h; the request structs here are checked against
// that header by this package's tests.
//
// Pure Go, no cgo: requests go to /dev/bpfcmpdel through ioctl(2) with
// [golang.org/x/sys/unix].  Built and tested with Go 1.19, cilium/ebpf
// 0.9.1 and x/sys 0.3.0 (Debian bookworm's packages), the oldest this
// package supports; it uses no API those versions lack.  Debian trixie's
// Go 1.24, cilium/ebpf 0.11 and x/sys 0.22 build and pass it as well.
//
// The module path is github.com/bpfcmpdel/bpfcmpdel/go.
package bpfcmpdel
