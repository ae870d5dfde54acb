// Script droppers and container tricks: the attachments that carry malware past filters once
// executables are blocked (scripts, shortcuts, disk images, OneNote documents).

rule Script_Attachment : dropper
{
  meta:
    score = 10
    action = "quarantine"
    description = "script attachments (.js, .vbs, .hta, .wsf, .ps1, .bat) are held for review: they are how malware droppers travel"
    flags = "script_attachment"

  condition:
    filename matches /\.(js|jse|vbs|vbe|wsf|wsh|hta|ps1|bat|cmd)$/i
}

rule Container_Trick_Attachment : dropper
{
  meta:
    score = 10
    action = "quarantine"
    description = "shortcut, disk image and OneNote attachments (.lnk, .iso, .img, .vhd, .one) are held for review: they smuggle malware past filters"
    flags = "container_trick"

  condition:
    filename matches /\.(lnk|iso|img|vhdx?|one)$/i
}

rule Windows_Shortcut_Content : dropper
{
  meta:
    score = 10
    action = "quarantine"
    description = "a Windows shortcut (LNK) is attached, whatever its name: a common malware launcher"
    flags = "container_trick"

  condition:
    // Header size 0x4C, then the shell link CLSID 00021401-0000-0000-C000-000000000046.
    uint32(0) == 0x0000004C and uint32(4) == 0x00021401 and uint32(8) == 0 and uint32be(12) == 0xC0000000
}

rule Disk_Image_Content : dropper
{
  meta:
    score = 10
    action = "quarantine"
    description = "an ISO disk image is attached, whatever its name: used to smuggle programs past filters"
    flags = "container_trick"

  strings:
    $iso = "CD001"

  condition:
    $iso at 0x8001
}

rule OneNote_Content : dropper
{
  meta:
    score = 10
    action = "quarantine"
    description = "a OneNote document is attached, whatever its name: used to embed malicious scripts"
    flags = "container_trick"

  strings:
    $guid = { E4 52 5C 7B 8C D8 A7 4D AE B1 53 78 D0 29 96 D3 }

  condition:
    $guid at 0
}

rule Script_Dropper_Content : dropper
{
  meta:
    score = 6
    action = "tag"
    description = "text that launches programs through Windows Script Host or PowerShell"
    flags = "script_content"

  strings:
    $wsh = "WScript.Shell" nocase
    $activex = "ActiveXObject" nocase
    $create = "CreateObject(" nocase
    $shellapp = "Shell.Application" nocase
    $ps = /powershell(\.exe)?\s+(-[a-z]+\s+)*-(e|enc|encodedcommand)\s/ nocase
    $download = /(DownloadFile|DownloadString|Invoke-WebRequest|URLDownloadToFile)/ nocase

  condition:
    2 of them
}
