# A perl process holding a large hash (500,000 entries of 128 bytes, about
# 150 MB). It prints its checksum once built ("READY N SUM": the XOR of the
# MD5 of every "key=value", so the hash's own order does not matter), then
# on every SIGUSR1 walks the whole hash again and prints "OK N SUM" if the
# sum is unchanged, "FAIL N SUM" if not.
use strict;
use warnings;
use Digest::MD5 qw(md5 md5_hex);

$| = 1;
my $n = shift;
my %h;
$h{"k$_"} = md5_hex($_) x 4 for 0 .. $n - 1;

sub checksum {
  my $x = "\0" x 16;
  while (my ($k, $v) = each %h) { $x ^= md5("$k=$v") }
  return unpack("H*", $x);
}

my $c0 = checksum();
print "READY ", scalar(keys %h), " $c0\n";
my $asked = 0;
$SIG{USR1} = sub { $asked = 1 };
while (1) {
  sleep 1000 unless $asked;
  next unless $asked;
  $asked = 0;
  my $c = checksum();
  print(($c eq $c0 ? "OK" : "FAIL"), " ", scalar(keys %h), " $c\n");
}
