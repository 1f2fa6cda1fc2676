// true: exits 0. The start-up workload uses it when /bin/busybox (a static
// binary on Debian's busybox-static) is not installed.
int main(void) { return 0; }
