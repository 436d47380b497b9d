//go:build unix

package filelimit

import "syscall"

// raiseLimit raises the soft open-file limit to the hard one when Go's
// start-up did not, and returns the soft limit in force (0 if unknown).
func raiseLimit() int {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return 0
	}
	if lim.Cur+1 < lim.Max {
		up := syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
			lim.Cur = lim.Max
		}
	}
	return int(min(lim.Cur, 1<<31-1))
}
