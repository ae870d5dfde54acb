// The EICAR anti-virus test file: a harmless 68-byte string that every scanner detects, used
// to check end to end that infected attachments are refused. It is split in two here so that
// this file is not itself taken for the test file.

rule EICAR_Test_File : test
{
  meta:
    score = 100
    action = "reject"
    description = "it contains the EICAR anti-virus test file"
    flags = "virus"

  strings:
    $head = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$"
    $tail = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

  condition:
    $head at 0 and $tail at 28 and filesize <= 128
}
