#Requires -Version 7.0
#Requires -Modules @{ ModuleName = 'ExchangeOnlineManagement'; ModuleVersion = '3.0.0' }
<#
.SYNOPSIS
    Export Exchange Online's Global Address List, with its S/MIME
    certificates, for galsmime.

.DESCRIPTION
    Writes every mailbox (Get-Mailbox), mail user (Get-MailUser) and mail
    contact (Get-MailContact) into ONE JSON array, one object per line, with
    Name, Alias, DisplayName, RecipientType, PrimarySmtpAddress,
    ExternalEmailAddress, EmailAddresses, UserCertificate and
    UserSMIMECertificate. Every certificate value is converted with
    [Convert]::ToBase64String, one by one. The file is UTF-8 without a byte
    order mark, written as the recipients arrive, so memory does not grow with
    the tenant; it appears under its name only when complete.

    Also writes the organisation's S/MIME issuing CAs, the bytes an
    administrator gave Set-SmimeConfig -SMIMECertificateIssuingCA (a
    serialized certificate store, .sst), to -SstFile.

    Then, where galsmime runs:

        galsmime trust import issuing.sst
        galsmime gal import gal.json

    Why not Export-Csv or ConvertTo-Json on the cmdlets' output: the
    certificates are byte arrays. Export-Csv writes their type name
    ("System.Byte[]") instead of the bytes. ConvertTo-Json writes a byte[] as
    an array of numbers while it is within -Depth (2 unless told) and as the
    text "System.Byte[]" beyond it. galsmime reports both as "certificate
    bytes lost by the export".

    Needs PowerShell 7, the ExchangeOnlineManagement module 3.0 or later
    (Install-Module ExchangeOnlineManagement -Scope CurrentUser), and a role
    that may read recipients and the S/MIME configuration (for example View-Only
    Recipients with View-Only Configuration, or Global Reader). Connects with
    Connect-ExchangeOnline unless a connection is open, and disconnects only
    what it opened.

.PARAMETER OutFile
    The JSON file to write (default gal.json).

.PARAMETER SstFile
    The .sst file for the issuing CAs (default issuing.sst). Not written when
    Get-SmimeConfig holds none.

.PARAMETER ResultSize
    How many recipients each cmdlet returns: Unlimited (the default) or a
    number, to try the script on a few first.

.EXAMPLE
    ./Export-GalSmime.ps1

.EXAMPLE
    ./Export-GalSmime.ps1 -OutFile contoso-gal.json -SstFile contoso-ca.sst -ResultSize 50
#>
[CmdletBinding()]
param(
    [string] $OutFile = 'gal.json',
    [string] $SstFile = 'issuing.sst',
    [string] $ResultSize = 'Unlimited'
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

# The value of a property, or $null when the object has none (recipient
# types differ; strict mode would stop on a missing one). -NoEnumerate: a
# collection comes back as itself, not unrolled into its items.
function Get-Prop($Object, [string] $Name) {
    $p = $Object.PSObject.Properties[$Name]
    if ($null -eq $p) { return $null }
    Write-Output -NoEnumerate $p.Value
}

# Text, or $null for nothing.
function ConvertTo-Text($Value) {
    if ($null -eq $Value) { return $null }
    $s = [string] $Value
    if ($s -eq '') { return $null }
    return $s
}

# Every item as text (EmailAddresses: ProxyAddress objects become
# "SMTP:x@y"). Always an array, even of one or of none.
function ConvertTo-TextList($Values) {
    $list = [System.Collections.Generic.List[string]]::new()
    if ($null -ne $Values) {
        foreach ($v in $Values) {
            if ($null -ne $v -and [string] $v -ne '') { $list.Add([string] $v) }
        }
    }
    return , $list.ToArray()
}

# Every certificate value, one by one, as base64. Always an array.
function ConvertTo-Base64List($Values, [string] $What, [string] $Who) {
    $list = [System.Collections.Generic.List[string]]::new()
    if ($null -eq $Values) { return , $list.ToArray() }
    # one byte[] is one value, not a list of bytes
    if ($Values -is [byte[]]) { $Values = , $Values }
    foreach ($v in $Values) {
        if ($null -eq $v) { continue }
        if ($v -is [byte[]]) {
            $list.Add([Convert]::ToBase64String($v))
        } elseif ($v -is [string]) {
            # already text: keep it only if it is base64
            try {
                [void] [Convert]::FromBase64String($v)
                $list.Add($v)
            } catch {
                Write-Warning "${Who}: a $What value is neither bytes nor base64 ('$v'): left out"
            }
        } else {
            $list.Add([Convert]::ToBase64String([byte[]] $v))
        }
    }
    return , $list.ToArray()
}

# One recipient as galsmime reads it.
function ConvertTo-GalEntry($Recipient) {
    $who = ConvertTo-Text (Get-Prop $Recipient 'PrimarySmtpAddress')
    if ($null -eq $who) { $who = ConvertTo-Text (Get-Prop $Recipient 'Name') }
    [ordered] @{
        Name                 = ConvertTo-Text (Get-Prop $Recipient 'Name')
        Alias                = ConvertTo-Text (Get-Prop $Recipient 'Alias')
        DisplayName          = ConvertTo-Text (Get-Prop $Recipient 'DisplayName')
        # an enum: its name, not its number
        RecipientType        = ConvertTo-Text (Get-Prop $Recipient 'RecipientType')
        PrimarySmtpAddress   = ConvertTo-Text (Get-Prop $Recipient 'PrimarySmtpAddress')
        ExternalEmailAddress = ConvertTo-Text (Get-Prop $Recipient 'ExternalEmailAddress')
        EmailAddresses       = ConvertTo-TextList (Get-Prop $Recipient 'EmailAddresses')
        UserCertificate      = ConvertTo-Base64List (Get-Prop $Recipient 'UserCertificate') 'UserCertificate' $who
        UserSMIMECertificate = ConvertTo-Base64List (Get-Prop $Recipient 'UserSMIMECertificate') 'UserSMIMECertificate' $who
    }
}

# Pipeline end: one array element per recipient, on its own line.
function Write-GalEntry {
    param([Parameter(ValueFromPipeline = $true)] $Recipient)
    process {
        $json = ConvertTo-GalEntry $Recipient | ConvertTo-Json -Depth 5 -Compress
        $script:writer.Write($(if ($script:count -gt 0) { ",`n" } else { "`n" }))
        $script:writer.Write($json)
        $script:count++
        if ($script:count % 500 -eq 0) {
            Write-Progress -Activity "Exporting the GAL to $OutFile" -Status "$script:count recipients"
        }
    }
}

# Paths relative to PowerShell's location, not the process's directory
$outPath = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($OutFile)
$sstPath = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($SstFile)

$connected = $false
if (-not (Get-ConnectionInformation | Where-Object { $_.State -eq 'Connected' })) {
    Connect-ExchangeOnline -ShowBanner:$false
    $connected = $true
}

try {
    # written under a temporary name, renamed when whole
    $partial = "$outPath.partial"
    $script:count = 0
    $script:writer = [System.IO.StreamWriter]::new($partial, $false, [System.Text.UTF8Encoding]::new($false))
    try {
        $script:writer.Write('[')
        Get-Mailbox -ResultSize $ResultSize | Write-GalEntry
        Get-MailUser -ResultSize $ResultSize | Write-GalEntry
        Get-MailContact -ResultSize $ResultSize | Write-GalEntry
        $script:writer.Write("`n]`n")
        $script:writer.Close()
    } catch {
        $script:writer.Dispose()
        Remove-Item -LiteralPath $partial -Force -ErrorAction SilentlyContinue
        throw
    }
    Move-Item -LiteralPath $partial -Destination $outPath -Force
    Write-Progress -Activity "Exporting the GAL to $OutFile" -Completed
    Write-Host "$script:count recipients written to $outPath"

    $ca = Get-Prop (Get-SmimeConfig) 'SMIMECertificateIssuingCA'
    if ($null -eq $ca -or @($ca).Count -eq 0) {
        Write-Warning "Get-SmimeConfig holds no SMIMECertificateIssuingCA: $sstPath not written"
    } else {
        [IO.File]::WriteAllBytes($sstPath, [byte[]] $ca)
        Write-Host "issuing CAs written to $sstPath"
    }
} finally {
    if ($connected) { Disconnect-ExchangeOnline -Confirm:$false }
}
