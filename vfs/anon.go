package vfs

// AnonInode, embedded in a FileImpl, makes it a file on Linux's anonymous
// inode (anon_inodefs), as eventfd, timerfd, signalfd, epoll and inotify
// files are: all share one inode, mode 0600; lseek succeeds and changes
// nothing (noop_llseek), while pread and pwrite fail with ESPIPE (a
// stream).
type AnonInode struct{}

// anonIno is the shared inode's number.
const anonIno = 1

// Stat implements the stat of FileImpls.
func (AnonInode) Stat(ctx Context) (Stat, error) {
	return Stat{Dev: 0xd, Ino: anonIno, Mode: 0o600, Nlink: 1, UID: ctx.UID(), GID: ctx.GID(), Blksize: 4096}, nil
}

// IsStream implements Stream.
func (AnonInode) IsStream() bool { return true }

// NoopSeek implements NoopSeeker.
func (AnonInode) NoopSeek() {}

// NoopSeeker is implemented by streams whose lseek succeeds without
// moving (AnonInode).
type NoopSeeker interface{ NoopSeek() }
