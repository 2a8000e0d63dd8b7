// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package bpfcmpdel

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// The results a caller branches on, for errors.Is.  Every error a request
// returns also unwraps to the kernel's unix.Errno.
var (
	// ErrChanged: the region no longer holds the expected bytes (-EBUSY).
	// Nothing was deleted or written: the datapath refreshed the entry.
	ErrChanged = errors.New("region changed")
	// ErrNotExist: no element under the key (-ENOENT).  errors.Is also
	// matches ebpf.ErrKeyNotExist, as for ebpf.Map.Delete.
	ErrNotExist = fmt.Errorf("bpfcmpdel: %w", ebpf.ErrKeyNotExist)
	// ErrRetry: the bucket lock was not taken (-EAGAIN); nothing changed.
	ErrRetry = errors.New("bucket lock not taken, retry")
	// ErrNotSupported: the map is not a hash map the module serves
	// (-EOPNOTSUPP).  errors.Is also matches ebpf.ErrNotSupported.
	ErrNotSupported = fmt.Errorf("map type not served by bpfcmpdel: %w", ebpf.ErrNotSupported)
	// ErrModuleMissing: /dev/bpfcmpdel is absent, the module not loaded.
	ErrModuleMissing = errors.New(devicePath + " missing: the bpfcmpdel module is not loaded (modprobe bpfcmpdel)")
)

// Error is a request the kernel refused: the operation and its errno.
type Error struct {
	Op    string
	Errno unix.Errno
}

func (e *Error) Error() string {
	if s := e.sentinel(); s != nil {
		return fmt.Sprintf("bpfcmpdel: %s: %v (%v)", e.Op, s, e.Errno)
	}
	return fmt.Sprintf("bpfcmpdel: %s: %v", e.Op, e.Errno)
}

// Unwrap gives the errno, for errors.Is(err, unix.EPERM) and the like.
func (e *Error) Unwrap() error { return e.Errno }

// Is matches the sentinel the errno stands for.
func (e *Error) Is(target error) bool {
	s := e.sentinel()
	if s == nil {
		return false
	}
	return target == s || errors.Is(s, target)
}

func (e *Error) sentinel() error {
	switch e.Errno {
	case unix.EBUSY:
		return ErrChanged
	case unix.ENOENT:
		return ErrNotExist
	case unix.EAGAIN:
		return ErrRetry
	case unix.EOPNOTSUPP:
		return ErrNotSupported
	case unix.ENODEV:
		return ErrModuleMissing
	}
	return nil
}

// errOf is nil for 0, otherwise the Error for -errno @ret of @op.
func errOf(op string, errno unix.Errno) error {
	if errno == 0 {
		return nil
	}
	return &Error{Op: op, Errno: errno}
}
