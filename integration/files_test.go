package integration

import (
	"strings"
	"testing"
)

// The "Files" acceptance tests: real programs that work on files in a fresh
// scratch directory in /tmp (git, tar, python3's os and shutil), and hostile
// paths (symlink loops, names and paths that are too long, "..").

// gitScript makes a repository, two commits (the second a rename) and
// prints logs, statuses and hashes. The dates and identities are fixed, and
// system and global configuration are ignored, so the hashes are the same on
// every run.
const gitScript = tmpScratch + `export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_DATE='2001-02-03T04:05:06Z' GIT_COMMITTER_DATE='2001-02-03T04:05:06Z'
git init -q -b main repo; echo "init: $?"
cd repo || exit 98
git config user.name 'Moat Tester'
git config user.email 'moat@example.com'
printf 'hello\n' > a.txt
printf 'one\ntwo\nthree\n' > b.txt
git add a.txt b.txt; echo "add: $?"
git commit -q -m 'first commit'; echo "commit: $?"
git log --format='%s %an'
git rev-parse HEAD
echo change >> a.txt; echo new > c.txt
git status --porcelain
git checkout -q -- a.txt; rm c.txt
git status --porcelain; echo "clean: $?"
git mv b.txt renamed.txt; echo "mv: $?"
git status --porcelain
git commit -q -m 'rename b'; echo "commit: $?"
git log --stat --format=%s
git rev-parse HEAD
git ls-files
git fsck --strict 2>&1; echo "fsck: $?"
git gc -q; echo "gc: $?"
git count-objects -v | grep -E '^(count|in-pack|packs):'
git log --format='%h %s' main
echo done`

// tarSource is what TestFilesTar archives. All of /usr/include takes about
// 6 s natively and 12 s in moat; its linux/ subdirectory (kernel headers,
// there wherever gcc is, about 760 files, 6.5 MB) takes about 1 s in moat.
const tarSource = "/usr/include/linux"

// tarScript archives tarSource with tar czf into the scratch directory,
// extracts it with tar xzf and compares file counts and a checksum of all
// the files' checksums in sorted order; then does the same with a small
// tree of its own with modes, a symlink, a hard link and an empty directory
// (directories' link counts are left out: they depend on the filesystem).
const tarScript = tmpScratch + `src=` + tarSource + `
tar czf src.tgz -C "$src" .; echo "tar czf: $?"
mkdir out && tar xzf src.tgz -C out; echo "tar xzf: $?"
echo "files in source: $(cd "$src" && find . -type f | wc -l)"
echo "files extracted: $(cd out && find . -type f | wc -l)"
echo "dirs: $(cd "$src" && find . -type d | wc -l) $(cd out && find . -type d | wc -l)"
a=$(cd "$src" && find . -type f | sort | xargs -d '\n' sha256sum | sha256sum)
b=$(cd out && find . -type f | sort | xargs -d '\n' sha256sum | sha256sum)
[ -n "$a" ] && [ "$a" = "$b" ] && echo "checksums match" || echo "checksums differ"
echo "listing: $(tar tzf src.tgz | sort | sha256sum | cut -c1-16)"
rm -rf out src.tgz
umask 022
mkdir -p t/sub/deeper t/empty
printf 'some text\n' > t/sub/file; chmod 640 t/sub/file
printf '#!/bin/sh\n' > t/script; chmod 755 t/script
ln -s sub/file t/link; ln t/sub/file t/sub/hard
touch -d '2001-02-03 04:05:06' t/sub/file t/script
tar cf t.tar t; echo "tar cf: $?"
mkdir x && tar xpf t.tar -C x; echo "tar xpf: $?"
cd x && find t | sort | while read -r p; do
  if [ -L "$p" ]; then echo "$p -> $(readlink "$p")"
  elif [ -d "$p" ]; then echo "$p $(stat -c '%F %a' "$p")"
  else echo "$p $(stat -c '%F %a %h %s %Y' "$p")"; fi
done
cmp t/sub/file ../t/sub/file && echo "content same"
echo done`

// pyFiles works in a tempfile.mkdtemp directory in /tmp: NamedTemporaryFile
// and TemporaryDirectory, shutil.copytree (keeping and following symlinks)
// of a tree it makes, an os.walk listing in sorted order, os.link,
// os.symlink and os.readlink, os.replace and os.rename (and their errors),
// the parts of os.stat that do not depend on the filesystem (type, mode,
// nlink of files, size), shutil.rmtree.
const pyFiles = `import errno, os, shutil, stat, tempfile

def show(label, fn):
    try:
        print(label + ':', fn())
    except OSError as e:
        print(label + ':', errno.errorcode.get(e.errno, e.errno))

def st(p, follow=True):
    s = os.stat(p) if follow else os.lstat(p)
    d = stat.S_ISDIR(s.st_mode)
    kind = 'dir' if d else 'link' if stat.S_ISLNK(s.st_mode) else 'file' if stat.S_ISREG(s.st_mode) else '?'
    # Directories' sizes and link counts depend on the filesystem.
    return '%s mode=%o nlink=%s size=%s' % (kind, stat.S_IMODE(s.st_mode), '-' if d else s.st_nlink, '-' if d else s.st_size)

os.umask(0o022)
top = tempfile.mkdtemp(prefix='moat-py-', dir='/tmp')
print('mkdtemp under /tmp:', os.path.dirname(top) == '/tmp', oct(stat.S_IMODE(os.stat(top).st_mode)))
os.chdir(top)

with tempfile.NamedTemporaryFile(dir=top, delete=False, suffix='.txt') as f:
    f.write(b'named temporary\n')
    name = f.name
print('NamedTemporaryFile:', st(name))
with tempfile.NamedTemporaryFile(dir=top) as g:
    g.write(b'x' * 5000)
    g.flush()
    gname = g.name
    print('open temp exists:', os.path.exists(gname), os.fstat(g.fileno()).st_size)
print('deleted on close:', not os.path.exists(gname))
with tempfile.TemporaryDirectory(dir=top) as td:
    open(os.path.join(td, 'f'), 'w').close()
    tdname = td
print('TemporaryDirectory removed:', not os.path.exists(tdname))

os.makedirs('src/a/b/c')
os.makedirs('src/empty')
for i, p in enumerate(['src/top.txt', 'src/a/one', 'src/a/b/two', 'src/a/b/c/three']):
    with open(p, 'w') as f:
        f.write('line\n' * (i * 100 + 1))
os.chmod('src/a/one', 0o600)
os.chmod('src/a/b/two', 0o755)
os.symlink('../top.txt', 'src/a/link-to-top')
os.symlink('nowhere', 'src/dangling')

shutil.copytree('src', 'copy', symlinks=True)
def walk(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for n in sorted(dirnames + filenames):
            p = os.path.join(dirpath, n)
            out.append('%s %s' % (os.path.relpath(p, root), st(p, follow=False)))
    return out
a, b = walk('src'), walk('copy')
for line in b:
    print(' ', line)
print('copytree same listing:', a == b)
print('readlink in copy:', os.readlink('copy/a/link-to-top'), os.readlink('copy/dangling'))
print('content via link:', len(open('copy/a/link-to-top').read()))
shutil.copytree('src/a', 'copy-follow')
print('followed link:', st('copy-follow/link-to-top', follow=False))

os.link('copy/top.txt', 'hard')
print('link:', st('hard'), st('copy/top.txt'))
print('samefile:', os.path.samefile('hard', 'copy/top.txt'))
show('link onto existing', lambda: os.link('hard', 'copy/top.txt'))
show('link of a dir', lambda: os.link('copy', 'copy2'))
os.unlink('hard')
print('after unlink:', st('copy/top.txt'))

os.symlink('copy/a/b', 'sl')
print('readlink:', os.readlink('sl'), 'islink', os.path.islink('sl'), 'isdir', os.path.isdir('sl'))
print('through symlink:', sorted(os.listdir('sl')))
print('lstat:', st('sl', follow=False), 'stat:', st('sl')[:3])
show('symlink onto existing', lambda: os.symlink('x', 'sl'))
show('readlink of a file', lambda: os.readlink('copy/top.txt'))
show('readlink missing', lambda: os.readlink('missing'))

with open('r1', 'w') as f:
    f.write('first\n')
with open('r2', 'w') as f:
    f.write('second, longer\n')
os.replace('r1', 'r2')
print('replace:', os.path.exists('r1'), open('r2').read().strip(), st('r2'))
os.makedirs('d1/x')
os.makedirs('d2')
os.replace('d1', 'd2')
print('replace dir onto empty dir:', sorted(os.listdir('d2')), os.path.exists('d1'))
os.makedirs('d3')
show('replace dir onto non-empty dir', lambda: os.replace('d3', 'd2'))
show('replace file onto dir', lambda: os.replace('r2', 'd2'))
show('replace dir onto file', lambda: os.replace('d3', 'r2'))
show('replace missing', lambda: os.replace('missing', 'r3'))
os.rename('r2', 'r3')
print('rename:', os.listdir('.').count('r3'), os.path.exists('r2'))

os.truncate('r3', 10000)
print('truncate:', os.stat('r3').st_size)
os.chmod('r3', 0o4751)
print('chmod:', oct(stat.S_IMODE(os.stat('r3').st_mode)))
os.utime('r3', (1000000000, 1234567890))
s = os.stat('r3')
print('utime:', int(s.st_atime), int(s.st_mtime), s.st_mtime_ns)

os.unlink(name)
shutil.rmtree('copy')
shutil.rmtree('copy-follow')
show('rmtree missing', lambda: shutil.rmtree('copy'))
print('after rmtree:', sorted(os.listdir('.')))
os.chdir('/')
shutil.rmtree(top)
print('top removed:', not os.path.exists(top))
print('done')
`

// hostileShell: symlink loops and ".." above / from the shell.
const hostileShell = tmpScratch + `ln -s loop-b loop-a; ln -s loop-a loop-b; ln -s self self
cat loop-a 2>/dev/null; echo "cat through a loop: $?"
[ -e loop-a ]; echo "test -e on a loop: $?"
[ -L loop-a ]; echo "test -L on a loop: $?"
(cd self 2>/dev/null); echo "cd into a loop fails: $([ $? -ne 0 ] && echo yes)"
cd /../../..; echo "cd /../../..: $(pwd) $(pwd -P)"
cd /tmp/../../../tmp/..; echo "cd /tmp/../../../tmp/..: $(pwd)"
cd "$d" && echo "ls /..: $([ "$(ls /..)" = "$(ls /)" ] && echo same as ls /)"
echo done`

// pyHostile: symlink loops (ELOOP, 40 links in a chain resolve, 41 do
// not), names of 255 and 256 bytes (ENAMETOOLONG), paths of 4095, 4096 and
// more bytes, symlink targets of 4095 and 4096 bytes, ".." above /, and a
// directory tree deeper than PATH_MAX (getcwd, relative access).
const pyHostile = `import errno, os, shutil, tempfile
def show(label, fn):
    try:
        r = fn()
        print(label + ':', 'ok' if r is None else r)
    except OSError as e:
        print(label + ':', errno.errorcode.get(e.errno, e.errno))
top = tempfile.mkdtemp(prefix='moat-py-', dir='/tmp')
os.chdir(top)
os.symlink('loop-b', 'loop-a')
os.symlink('loop-a', 'loop-b')
os.symlink('self', 'self')
show('open a loop', lambda: open('loop-a').close())
show('stat a self loop', lambda: os.stat('self') and None)
show('lstat a self loop', lambda: os.path.islink('self'))
show('readlink a loop', lambda: os.readlink('loop-a'))
show('mkdir through a loop', lambda: os.mkdir('self/x'))
show('chdir into a loop', lambda: os.chdir('loop-a'))
show('open O_NOFOLLOW on a symlink', lambda: os.close(os.open('self', os.O_RDONLY | os.O_NOFOLLOW)))
open('target', 'w').close()
prev = 'target'
for i in range(41):
    os.symlink(prev, 'chain%d' % i)
    prev = 'chain%d' % i
show('40 symlinks in a chain', lambda: os.stat('chain39') and None)
show('41 symlinks in a chain', lambda: os.stat('chain40') and None)
show('name of 255 bytes', lambda: open('n' * 255, 'w').close())
show('stat it', lambda: os.stat('n' * 255).st_size)
show('name of 256 bytes', lambda: open('n' * 256, 'w').close())
show('stat a name of 256 bytes', lambda: os.stat('n' * 256) and None)
show('mkdir a name of 256 bytes', lambda: os.mkdir('d' * 256))
show('symlink to a name of 256 bytes', lambda: os.symlink('x', 'l' * 256))
show('rename to a name of 256 bytes', lambda: os.rename('n' * 255, 'n' * 256))
show('a component of 256 bytes in the middle', lambda: os.stat('n' * 256 + '/x') and None)
long_ok = './' * 2047 + '.'
show('path of 4095 bytes', lambda: (len(long_ok), sorted(os.listdir(long_ok))[:2]))
show('path of 4096 bytes', lambda: os.listdir(long_ok + '/'))
show('path of 5000 bytes', lambda: os.stat('/' * 5000) and None)
show('chdir to a path of 4096 bytes', lambda: os.chdir(long_ok + '/'))
show('symlink with a target of 4096 bytes', lambda: os.symlink('x' * 4096, 'longtarget'))
show('symlink with a target of 4095 bytes', lambda: os.symlink('x' * 4095, 'longtarget'))
show('readlink it', lambda: len(os.readlink('longtarget')))
show('stat through it', lambda: os.stat('longtarget') and None)
show('listdir /.. is listdir /', lambda: sorted(os.listdir('/..')) == sorted(os.listdir('/')))
show('realpath /../../tmp/..', lambda: os.path.realpath('/../../tmp/..'))
for i in range(20):
    os.mkdir('d' * 250)
    os.chdir('d' * 250)
show('getcwd 20 x 251 bytes deep', lambda: len(os.getcwd()) - len(top))
show('create a file there', lambda: open('f', 'w').write('x'))
show('stat it by a relative path', lambda: os.stat('f').st_size)
show('stat it by its absolute path', lambda: os.stat(top + ('/' + 'd' * 250) * 20 + '/f').st_size)
show('chdir ../../..', lambda: os.chdir('../../..'))
show('getcwd 17 deep', lambda: len(os.getcwd()) - len(top))
os.chdir('/../../..')
show('getcwd after chdir /../../..', lambda: os.getcwd())
shutil.rmtree(top)
show('removed', lambda: os.path.exists(top))
print('done')
`

// filesCase runs argv natively and in moat, and twice natively unless
// skipDeterministic.
func filesCase(t *testing.T, argv []string, skipDeterministic bool) {
	t.Helper()
	t.Run("compare", func(t *testing.T) {
		t.Parallel()
		compare(t, argv...)
	})
	if !skipDeterministic {
		t.Run("native-deterministic", func(t *testing.T) {
			t.Parallel()
			nativeDeterministic(t, argv, "done\n")
		})
	}
}

// TestFilesGit: git init, config, add, commit, log, status, mv, log --stat,
// rev-parse, fsck, gc in /tmp.
func TestFilesGit(t *testing.T) {
	const git = "/usr/bin/git"
	if !fileExists(git) {
		t.Skipf("%s is not installed on this host", git)
	}
	t.Parallel()
	filesCase(t, []string{"/bin/sh", "-c", gitScript}, false)
}

// TestFilesTar: tar czf / tar xzf of tarSource, and tar cf / tar xpf of a
// small tree with modes and links, in /tmp.
func TestFilesTar(t *testing.T) {
	for _, p := range []string{"/bin/tar", "/bin/gzip", "/usr/bin/sha256sum", tarSource} {
		if !fileExists(p) {
			t.Skipf("%s is not on this host", p)
		}
	}
	t.Parallel()
	// Not run twice natively: it takes the longest, and its output depends
	// only on the files.
	filesCase(t, []string{"/bin/sh", "-c", tarScript}, true)
}

// TestFilesPython: python3's tempfile, shutil and os on files in /tmp.
func TestFilesPython(t *testing.T) {
	if !fileExists(python3) {
		t.Skipf("%s is not installed on this host", python3)
	}
	t.Parallel()
	filesCase(t, []string{python3, "-c", pyFiles}, false)
}

// TestFilesHostilePaths: symlink loops, too long names and paths, "..".
func TestFilesHostilePaths(t *testing.T) {
	t.Parallel()
	t.Run("sh", func(t *testing.T) {
		t.Parallel()
		filesCase(t, []string{"/bin/sh", "-c", hostileShell}, false)
	})
	t.Run("python3", func(t *testing.T) {
		if !fileExists(python3) {
			t.Skipf("%s is not installed on this host", python3)
		}
		t.Parallel()
		filesCase(t, []string{python3, "-c", pyHostile}, false)
	})
}

// copyScript copies a 5 MB file with cp (copy_file_range) and with
// python3's shutil.copyfile (sendfile), in /tmp, and compares the copies.
const copyScript = tmpScratch + `head -c 5242880 /dev/urandom > big; echo "head: $?"
cp big copy1; echo "cp: $?"
cmp big copy1 && echo "cp: identical"
` + python3 + ` -c "import shutil; shutil.copyfile('big', 'copy2')"; echo "shutil: $?"
cmp big copy2 && echo "shutil: identical"
stat -c '%n %s' big copy1 copy2
echo done`

// TestFilesCopy: cp and shutil.copyfile of a 5 MB file, natively and in
// moat; in moat, --strace shows that they went through copy_file_range and
// sendfile.
func TestFilesCopy(t *testing.T) {
	for _, p := range []string{"/usr/bin/cp", "/usr/bin/cmp", python3} {
		if !fileExists(p) {
			t.Skipf("%s is not on this host", p)
		}
	}
	t.Parallel()
	argv := []string{"/bin/sh", "-c", copyScript}
	filesCase(t, argv, true)
	t.Run("calls", func(t *testing.T) {
		t.Parallel()
		out, stderr, code := runMoat(t, []string{"--strace"}, argv, "")
		if code != 0 || !strings.Contains(out, "done\n") {
			t.Fatalf("exit status %d, stdout:\n%s\nstderr:\n%s", code, out, tail(stderr, 20))
		}
		for _, call := range []string{"copy_file_range(", "sendfile("} {
			if !strings.Contains(stderr, call) {
				t.Errorf("no %s in the strace output: the copy did not use it", call)
			}
		}
	})
}
