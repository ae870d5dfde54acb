// Programs attached to outbound mail: a customer's bot spreading itself, or a dropper. Judged
// by magic bytes (what the file is) and by name (what it pretends to be).

rule Executable_Windows_PE : executable
{
  meta:
    score = 20
    action = "reject"
    description = "Windows programs (.exe, .dll, .scr) are not accepted as attachments; share the file by a download link"
    flags = "executable"

  condition:
    uint16(0) == 0x5A4D and filesize > 0x40 and uint32(0x3C) < filesize - 4 and uint32(uint32(0x3C)) == 0x00004550
}

rule Executable_ELF : executable
{
  meta:
    score = 20
    action = "reject"
    description = "Linux programs (ELF) are not accepted as attachments; share the file by a download link"
    flags = "executable"

  condition:
    uint32(0) == 0x464C457F
}

rule Executable_MachO : executable
{
  meta:
    score = 20
    action = "reject"
    description = "macOS programs (Mach-O) are not accepted as attachments; share the file by a download link"
    flags = "executable"

  condition:
    uint32(0) == 0xFEEDFACE or uint32(0) == 0xFEEDFACF or uint32(0) == 0xCEFAEDFE or uint32(0) == 0xCFFAEDFE
    // A universal binary starts like a Java class file; it lists a handful of architectures.
    or (uint32be(0) == 0xCAFEBABE and uint32be(4) > 0 and uint32be(4) < 20)
}

rule Double_Extension_Executable : executable
{
  meta:
    score = 20
    action = "reject"
    description = "the attachment name hides a program behind a document extension (such as invoice.pdf.exe)"
    flags = "double_extension"

  condition:
    filename matches /\.(pdf|docx?|xlsx?|pptx?|rtf|odt|txt|csv|jpe?g|png|gif|tiff?|zip|rar|7z|html?)[\s._-]*\.(exe|scr|com|pif|bat|cmd|cpl|msi|dll|js|jse|vbs|vbe|wsf|hta|lnk|ps1|jar)$/i
}
