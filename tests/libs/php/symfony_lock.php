<?php
// Symfony Lock (Debian php-symfony-lock) RedisStore against ttl-semlock, unmodified, with phpredis
// (php-redis) or Predis (php-predis). Usage: php symfony_lock.php phpredis|predis PORT RESULTS
// Forked workers contend for exclusive, shared (read) and blocking locks; a marker directory
// records who is inside, and any overlap the lock should forbid fails the run. One result row per
// recipe is appended to RESULTS (JSON lines) for docs/CLIENTS.md.
require_once '/usr/share/php/Symfony/Component/Lock/autoload.php';

use Symfony\Component\Lock\LockFactory;
use Symfony\Component\Lock\Store\RedisStore;

[$self, $driver, $port, $results] = $argv;
if ($driver === 'predis') {
    require_once '/usr/share/php/Predis/autoload.php';
}
$port = (int) $port;

function connect(string $driver, int $port)
{
    if ($driver === 'phpredis') {
        $r = new Redis();
        $r->connect('127.0.0.1', $port);
        return $r;
    }
    return new Predis\Client(['host' => '127.0.0.1', 'port' => $port]);
}

function client_version(string $driver): string
{
    return $driver === 'phpredis' ? 'phpredis ' . phpversion('redis') : 'predis ' . Predis\Client::VERSION;
}

function record(string $results, string $driver, string $recipe, bool $ok, string $detail): void
{
    $row = [
        'language' => 'PHP', 'library' => 'symfony/lock RedisStore',
        'version' => trim(shell_exec("dpkg-query -W -f='\${Version}' php-symfony-lock")),
        'client' => client_version($driver), 'recipe' => $recipe,
        'result' => $ok ? 'pass' : 'fail', 'detail' => $detail,
    ];
    file_put_contents($results, json_encode($row) . "\n", FILE_APPEND | LOCK_EX);
}

// Runs $n forked workers of $fn($i, $dir); true when every one exited 0.
function run_workers(int $n, callable $fn, string $dir): bool
{
    $pids = [];
    for ($i = 0; $i < $n; $i++) {
        $pid = pcntl_fork();
        if ($pid === 0) {
            try {
                $fn($i, $dir);
                exit(0);
            } catch (Throwable $e) {
                fwrite(STDERR, "worker $i: " . $e->getMessage() . "\n");
                exit(1);
            }
        }
        $pids[] = $pid;
    }
    $ok = true;
    foreach ($pids as $pid) {
        pcntl_waitpid($pid, $status);
        $ok = $ok && pcntl_wifexited($status) && pcntl_wexitstatus($status) === 0;
    }
    return $ok;
}

function enter(string $path): void
{
    $f = @fopen($path, 'x');
    if ($f === false) {
        throw new RuntimeException("two holders inside at once ($path exists)");
    }
    fclose($f);
}

$failed = false;
$dir = sys_get_temp_dir() . '/semlock-symfony-' . getmypid();
@mkdir($dir);
$key = "lib:symfony:$driver";

// Exclusive, blocking acquire: Lock::acquire(true) retries until it holds the key.
$ok = run_workers(3, function (int $i, string $dir) use ($driver, $port, $key) {
    $factory = new LockFactory(new RedisStore(connect($driver, $port)));
    for ($r = 0; $r < 3; $r++) {
        $lock = $factory->createLock("$key:x", 10);
        $lock->acquire(true);
        enter("$dir/writer");
        usleep(5000);
        unlink("$dir/writer");
        $lock->release();
    }
}, $dir);
record($results, $driver, 'exclusive (blocking acquire)', $ok, '3 processes x 3 rounds');
$failed = $failed || !$ok;

// Non-blocking: a second process is refused while the first holds; expiry then lets it in.
$ok = true;
$detail = '';
try {
    $f1 = new LockFactory(new RedisStore(connect($driver, $port)));
    $f2 = new LockFactory(new RedisStore(connect($driver, $port)));
    $a = $f1->createLock("$key:nb", 0.5, false);
    $b = $f2->createLock("$key:nb", 10);
    if (!$a->acquire()) throw new RuntimeException('first acquire refused');
    if ($b->acquire()) throw new RuntimeException('second acquire granted while held');
    usleep(700000);
    if (!$b->acquire()) throw new RuntimeException('not granted after the holder expired');
    if (!$a->isExpired()) throw new RuntimeException('the first lock does not see its expiry');
    $b->release();
    $detail = 'refused while held; granted after expiry';
} catch (Throwable $e) {
    $ok = false;
    $detail = $e->getMessage();
}
record($results, $driver, 'exclusive (non-blocking, expiry)', $ok, $detail);
$failed = $failed || !$ok;

// Shared (read) locks: readers overlap, a writer excludes everyone.
$ok = run_workers(4, function (int $i, string $dir) use ($driver, $port, $key) {
    $factory = new LockFactory(new RedisStore(connect($driver, $port)));
    for ($r = 0; $r < 3; $r++) {
        $lock = $factory->createLock("$key:rw", 10);
        if ($i === 0) {
            $lock->acquire(true);
            enter("$dir/writer");
            if (glob("$dir/reader-*")) throw new RuntimeException('a reader inside with the writer');
            usleep(5000);
            unlink("$dir/writer");
        } else {
            $lock->acquireRead(true);
            enter("$dir/reader-$i");
            if (file_exists("$dir/writer")) throw new RuntimeException('the writer inside with a reader');
            usleep(5000);
            unlink("$dir/reader-$i");
        }
        $lock->release();
    }
}, $dir);
record($results, $driver, 'shared (read) + exclusive (write)', $ok, '1 writer, 3 readers x 3 rounds');
$failed = $failed || !$ok;

@rmdir($dir);
exit($failed ? 1 : 0);
