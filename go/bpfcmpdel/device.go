// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package bpfcmpdel

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The device, opened on first use and kept.  A failed open is tried again
// on the next request: an agent started before the module was loaded must
// not need a restart to use it.
var device struct {
	sync.Mutex
	f *os.File
}

func deviceFD() (int, error) {
	device.Lock()
	defer device.Unlock()
	if device.f != nil {
		return int(device.f.Fd()), nil
	}
	fd, err := unix.Open(devicePath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) && (errno == unix.ENOENT || errno == unix.ENXIO ||
			errno == unix.ENODEV) {
			return -1, &Error{Op: "open " + devicePath, Errno: unix.ENODEV}
		}
		return -1, &os.PathError{Op: "open", Path: devicePath, Err: err}
	}
	device.f = os.NewFile(uintptr(fd), devicePath)
	return fd, nil
}

// ioctl sends one request; @keep are the buffers its pointers point into,
// kept alive (and unmoved: heap memory) until the kernel is done.
func ioctl(op string, cmd uintptr, arg unsafe.Pointer, keep ...interface{}) error {
	fd, err := deviceFD()
	if err != nil {
		return err
	}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), cmd, uintptr(arg))
	runtime.KeepAlive(keep)
	runtime.KeepAlive(device.f)
	return errOf(op, errno)
}

// ptr is a []byte's address as the ABI carries user pointers (0 if empty).
func ptr(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))
}
